// SPDX-License-Identifier: GPL-2.0
/*
 * bpf_handoff COMMAND [ARG...]: as root, load a tracepoint BPF program
 * that does nothing, then exec COMMAND with the program open and its fd
 * in ABUSE_BPF_PROG_FD, as a privileged daemon handing a loaded program
 * to a tenant would. scope_fuzz then tries to attach it to its scoped
 * events, which the kernel must refuse.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr attr = {
		.prog_type	= BPF_PROG_TYPE_TRACEPOINT,
		.insn_cnt	= 2,
		.insns		= (uintptr_t)insns,
		.license	= (uintptr_t)"GPL",
	};
	char fd_text[16];
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: bpf_handoff COMMAND [ARG...]\n");
		return 2;
	}
	fd = syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
	if (fd < 0) {
		perror("bpf_handoff: BPF_PROG_LOAD (running without a program)");
	} else {
		/* bpf() makes it close-on-exec. */
		fcntl(fd, F_SETFD, 0);
		snprintf(fd_text, sizeof(fd_text), "%d", fd);
		setenv("ABUSE_BPF_PROG_FD", fd_text, 1);
	}
	execvp(argv[1], argv + 1);
	perror("bpf_handoff: exec");
	return 127;
}
