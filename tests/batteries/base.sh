#!/bin/bash
# Battery of the corpus `base` image: the shared base battery (../shared/corpus/batteries/base.sh,
# 408 commands), then the administration commands it leaves out (those podman's default profile
# denies, those that need privileges a container rarely has: System V IPC, execution domains,
# scheduling classes, clocks, host names, swap, reboot, keys...), each run by the image's own
# program. A call that fails (EPERM, EINVAL) was still made. An image-scope profile must give
# "0 denied" (scripts/e2e.sh runs it):
#   ../shared/corpus/battery.sh base /tmp/evalcorpus/base.docker.tar PROFILE tests/batteries/base.sh
# In trace mode it bounds from below what any sound image-scope profile of the image allows:
#   ../shared/corpus/battery.sh --trace base /tmp/evalcorpus/base.docker.tar OUT tests/batteries/base.sh
# (495 commands call 194 syscalls; with the 35 of ../shared/corpus/runtime-syscalls.txt, 200).
# Each command is bounded by timeout; nothing waits for a terminal. Written for the purpose, never
# used to tune the analysis.
BATTERY_INCLUDED=1
. /.evalbattery/shared/base.sh
W=/tmp/adminbat; mkdir -p $W $W/old; cd $W || exit 1
seq 1 20000 > nums

# --- System V IPC (util-linux)
c ipcmk -Q
c ipcmk -S 2
c ipcmk -M 4096
c ipcs -a
c ipcs -l
s 'for id in $(ipcs -q | awk "/^0x/ {print \$2}"); do ipcrm -q $id; done'
s 'for id in $(ipcs -s | awk "/^0x/ {print \$2}"); do ipcrm -s $id; done'
c ipcrm -a
# perl's System V builtins
c perl -e 'my $q = msgget(0, 0600 | 01000); msgsnd($q, pack("l! a*", 1, "hi"), 0); msgrcv($q, my $m, 64, 0, 0); msgctl($q, 0, 0);'
c perl -e 'my $s = semget(0, 1, 0600 | 01000); semop($s, pack("s!3", 0, 1, 0)); semctl($s, 0, 0, 0);'
c perl -e 'my $m = shmget(0, 4096, 0600 | 01000); shmwrite($m, "x", 0, 1); shmread($m, my $v, 0, 1); shmctl($m, 0, 0);'
c perl -MPOSIX -e '$SIG{ALRM} = sub {}; alarm 1; POSIX::pause(); my $s = POSIX::SigSet->new; POSIX::sigpending($s);'
c perl -MIO::Socket::INET -e 'my $l = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0") or exit; my $p = $l->sockport; if (fork) { accept(my $c, $l); wait } else { IO::Socket::INET->new("127.0.0.1:$p"); exit }'

# --- processes, scheduling, execution domains
c setarch x86_64 -R true
c setarch x86_64 --uname-2.6 uname -r
c linux64 true
c ionice -c 3 true
c ionice -p $$
c chrt -p $$
c chrt -o 0 true
c chrt -b 0 true
c chrt -d --sched-runtime 100000 --sched-deadline 1000000 --sched-period 1000000 0 true
c taskset -p $$
c taskset -c 0 true
c renice -n 1 -p $$
c nice -n 5 true
c setsid true
c prlimit --nofile=100:100 true
c killall5 -18
c pldd $$
c lsfd -p $$
c unshare -r true
c unshare -m true
s 'sleep 0.2 & wait'
s 'sh -c "times; umask 022; sleep 0.1 & wait"'

# --- time
c date --resolution
c date -s '2001-02-03 04:05:06'
c date -s @0 -u
c hwclock -r
c hwclock --directisa -r
c logger --rfc5424 battery
c logger -i -t battery hello

# --- host and kernel
c hostname battery
c domainname battery
c dmesg
c dmesg -c
c ctrlaltdel soft
c pivot_root $W $W/old
c swapon -s
c swapon --show
s 'dd if=/dev/zero of=swap bs=1M count=1 2>/dev/null; mkswap swap; swapon swap; swapoff swap'
c swapoff -a
c agetty --version
c e4crypt get_policy $W

# --- files
c sync
c sync -f $W
c sync -d nums 2>/dev/null
s 'touch lockf; (flock lockf sleep 2 &); sleep 0.3; flock -w 0.5 lockf true; flock -n lockf true'
s 'timeout 1 tail -f nums >/dev/null'
s 'mknod fifo p; mkfifo fifo2; cp -a fifo fifo3; mv -T fifo3 fifo4'
s 'cp --reflink=always nums nums2; cp --sparse=always nums nums3'
s 'ln -s nums lnk; cp -P lnk lnk2; mv --exchange nums2 nums3 2>/dev/null; mv nums3 nums5'
c cmp nums nums5
s 'grep -c 7 nums > /dev/null; grep -r x /etc >/dev/null'

# --- more of the same programs' paths
c getent ahosts battery.invalid
c getent hosts localhost
c chrt -m
c chrt -o -p 0 $$
c hwclock --hctosys
c nsenter -t 1 -u true
c mountpoint /
c findmnt -n /
s 'echo pass | e4crypt add_key -S 0x1234567812345678 $W'
s 'sleep 5 & /usr/bin/kill --timeout 100 TERM --signal KILL $!; wait'
s 'sleep 5 & /usr/bin/kill -q 7 -s USR1 $!; kill $!; wait'
c start-stop-daemon --start --oknodo --exec /bin/true
c perl -MTime::HiRes=setitimer,ITIMER_REAL -e '$SIG{ALRM} = sub {}; setitimer(ITIMER_REAL, 0.01); select(undef, undef, undef, 0.1)'
s 'ln -sf nums lnk3; cp -a lnk3 lnk4; chown -h nobody lnk4; cp -a --preserve=xattr lnk4 lnk5'
c bash -ic true
s '[ -x /bin/sh ] && test -w /'

s 'seq 1 10 > /dev/shm/f; timeout 1 tail -f /dev/shm/f >/dev/null; timeout 1 tail -F /dev/shm/f >/dev/null'
c hwclock --systz
s 'printf "MESSAGE=battery\nPRIORITY=6\n" | logger --journald'
c unshare --map-auto --map-root-user true
s 'mkdir -p dup; cp nums dup/a; cp nums dup/b; hardlink -v -n dup; hardlink -v dup'
c chcon -h system_u:object_r:tmp_t:s0 lnk4
s 'echo "nameserver 127.0.0.1" > /etc/resolv.conf; getent ahosts battery.invalid; getent hosts battery.invalid'

echo BATTERY-END $B
