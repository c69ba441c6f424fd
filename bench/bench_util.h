/* SPDX-License-Identifier: ISC */
/*
 * floodgate - what every benchmark prints the same way: the command, the
 * machine, the load around the runs, and medians.
 */
#ifndef FG_BENCH_UTIL_H
#define FG_BENCH_UTIL_H

void bench_print_command(int argc, char **argv);
/* uname, CPU model, CPUs online, and a warning for slow builds. */
void bench_print_machine(void);
/* Other work on the machine skews every figure: say how much there was. */
void bench_print_load(const char *when);
/* Sorts v in place. */
double bench_median(double *v, int n);
double bench_now_s(void);

#endif
