#!/bin/sh
# /init of the realm guest's initramfs (busybox sh; scripts/linux-guest puts it there). Mounts
# the basics, loads the attestation modules listed in /lib/modules/load, asks configfs-tsm for a
# CCA attestation token over the challenge the VMM put on the kernel command line
# (rmm.challenge=<128 hex digits>) and prints it as hex between `guest: token begin` and
# `guest: token end` (rmm-token verify reads it); then runs /script, one command a line, or a
# shell on the console, and powers off.
export PATH=/bin HOME=/ PS1='guest# '

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null ||
    echo "guest: no devtmpfs: using the initramfs's /dev/console and /dev/null"
mkdir -p /tmp
busybox --install -s /bin 2>/dev/null # every applet, for the shell
echo "guest: Linux $(uname -r) up, $(nproc 2>/dev/null || grep -c ^processor /proc/cpuinfo) CPUs"

if [ -s /lib/modules/load ]; then
    while read -r module; do
        if out=$(insmod "/lib/modules/$module.ko" 2>&1); then
            echo "guest: module $module loaded"
        else
            echo "guest: module $module not loaded: ${out:-insmod failed}"
        fi
    done </lib/modules/load
fi

failed() { echo "guest: attestation failed: $*"; }

# The token for the challenge on the command line, printed between the marker lines.
attest() {
    cfg=/sys/kernel/config
    report=$cfg/tsm/report/r0
    challenge=""
    for arg in $(cat /proc/cmdline); do
        case $arg in rmm.challenge=*) challenge=${arg#rmm.challenge=} ;; esac
    done
    case $challenge in
        "" | *[!0-9a-fA-F]*) failed "no rmm.challenge=<128 hex digits> on the kernel command line"; return ;;
    esac
    [ ${#challenge} -eq 128 ] || { failed "rmm.challenge has ${#challenge} hex digits, not 128"; return; }
    grep -qw configfs /proc/filesystems || { failed "no configfs in this kernel (module configfs not loaded)"; return; }
    grep -q " $cfg configfs " /proc/mounts || mount -t configfs configfs $cfg 2>/tmp/err ||
        { failed "mount configfs on $cfg: $(cat /tmp/err)"; return; }
    [ -d $cfg/tsm/report ] || { failed "no $cfg/tsm/report: configfs-tsm (module tsm_report) not loaded"; return; }
    # Without a provider (arm-cca-guest loads only in a realm) configfs-tsm refuses the mkdir.
    no_provider=""
    [ -d /sys/module/arm_cca_guest ] || no_provider="; no provider: arm-cca-guest is not loaded (not a realm?)"
    [ -d $report ] || mkdir $report 2>/tmp/err ||
        { failed "mkdir $report: $(cat /tmp/err)$no_provider"; return; }
    provider=$(cat $report/provider 2>/dev/null)
    [ -n "$provider" ] || { failed "no TSM provider in $report/provider$no_provider"; return; }
    # The challenge as 64 binary bytes: octal escapes for printf.
    escapes="" hex=$challenge
    while [ -n "$hex" ]; do
        rest=${hex#??}
        escapes="$escapes\\$(printf %03o "0x${hex%"$rest"}")"
        hex=$rest
    done
    # shellcheck disable=SC2059 # the escapes are the format
    printf "$escapes" >$report/inblob 2>/tmp/err || { failed "write inblob: $(cat /tmp/err)"; return; }
    cat $report/outblob >/tmp/token 2>/tmp/err || { failed "read outblob from $provider: $(cat /tmp/err)"; return; }
    size=$(wc -c </tmp/token)
    [ "$size" -gt 0 ] || { failed "empty outblob from $provider"; return; }
    echo "guest: token: $size bytes from $provider"
    # No kernel messages inside the token's lines.
    level=$(cut -f1 /proc/sys/kernel/printk)
    echo 1 >/proc/sys/kernel/printk
    echo "guest: token begin"
    od -An -v -tx1 /tmp/token | tr -d ' '
    echo "guest: token end"
    echo "$level" >/proc/sys/kernel/printk
    rmdir $report 2>/dev/null
    echo "guest: attestation done"
}
attest

if [ -f /script ]; then
    echo "guest: running /script"
    # A subshell: `exit` in the script ends it, not init.
    (
        while IFS= read -r line || [ -n "$line" ]; do
            case $line in "" | "#"*) continue ;; esac
            echo "guest\$ $line"
            eval "$line" </dev/null 2>&1 || echo "guest: exit status $?"
        done </script
    )
    echo "guest: script done"
else
    echo "guest: no /script: a shell on the console (exit it to power off)"
    setsid cttyhack sh || sh
fi
poweroff -f
echo "guest: poweroff failed"
while :; do sleep 3600; done
