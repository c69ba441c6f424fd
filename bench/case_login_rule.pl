#!/usr/bin/perl
# SPDX-License-Identifier: ISC
#
# case_login_rule.pl: the original operator's rule, written from its
# description as the baseline of bench/bench_sweep: an account is a bot
# when it had at least 3 sessions of 60 s or less and at least one login
# whose name differs in case from the stored (lowercase) name. Reads
# ejabberd 23.01 logs (sessions paired by the c2s process id) on standard
# input or the files named, prints the suspects, one a line, sorted, and
# a count on standard error.
use strict;
use warnings;
use Time::Local qw(timegm);

my $SHORT = 60;    # s: a session this long or less is short
my $MIN_SHORT = 3; # short sessions for the rule

my (%open, %short, %case);
my ($day, $day_s) = ('', 0);

while (my $line = <>) {
	next unless $line =~ /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\S* \[\w+\] \S+ \(tcp\|(<[\d.]+>)\) (Opened|Closing) c2s session for ([^@\s]+)@([^\/\s]+)/;
	my ($pid, $what, $user, $host) = ($7, $8, $9, $10);
	if ("$1$2$3" ne $day) {
		$day = "$1$2$3";
		$day_s = timegm(0, 0, 0, $3, $2 - 1, $1);
	}
	my $t = $day_s + $4 * 3600 + $5 * 60 + $6;
	my $acct = lc("$user\@$host");
	if ($what eq 'Opened') {
		$open{$pid} = [$acct, $t];
		$case{$acct} = 1 if $user ne lc($user);
	} elsif (my $s = delete $open{$pid}) {
		$short{$s->[0]}++ if $t - $s->[1] <= $SHORT;
	}
}

my @bots = sort grep { $case{$_} && ($short{$_} // 0) >= $MIN_SHORT } keys %short;
print "$_\n" for @bots;
printf STDERR "case_login_rule.pl: %d suspects\n", scalar @bots;
