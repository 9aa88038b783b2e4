# scripts/run --linux: the realm VMM booting a Linux guest. Source it, don't run it; it uses
# scripts/run's variables (out, log, smp, mem_mib, release_dir, objcopy, qemu).

# Host physical memory the VMM's guest parts go to (QEMU `virt` DRAM from 0x4000_0000): the
# VMM image at 0x6000_0000 (with its stacks and tables, under 16 MiB), the kernel Image and
# the initramfs, then the pool of granules the VMM delegates, up to the end of DRAM.
LINUX_KERNEL_ADDR=0x61000000
LINUX_INITRD_ADDR=0x66000000
LINUX_POOL_ADDR=0x6e000000

# Prepares the kernel and initramfs (scripts/linux-guest) and sets linux_kernel, linux_initrd,
# linux_version, linux_challenge. Arguments: scripts/linux-guest's options.
linux_prepare() {
    local line
    while IFS= read -r line; do
        case "$line" in
            kernel=*) linux_kernel=${line#kernel=} ;;
            initrd=*) linux_initrd=${line#initrd=} ;;
            version=*) linux_version=${line#version=} ;;
            challenge=*) linux_challenge=${line#challenge=} ;;
        esac
    done < <(scripts/linux-guest "$@")
    [ -n "${linux_kernel:-}" ] && [ -n "${linux_initrd:-}" ] && [ -n "${linux_challenge:-}" ] ||
        die "scripts/linux-guest did not say what to boot"
    local kernel_size initrd_size
    kernel_size=$(stat -c %s "$linux_kernel")
    initrd_size=$(stat -c %s "$linux_initrd")
    [ $((LINUX_KERNEL_ADDR + kernel_size)) -le $((LINUX_INITRD_ADDR)) ] || die "the kernel is larger than $(((LINUX_INITRD_ADDR - LINUX_KERNEL_ADDR) >> 20)) MiB"
    [ $((LINUX_INITRD_ADDR + initrd_size)) -le $((LINUX_POOL_ADDR)) ] || die "the initramfs is larger than $(((LINUX_POOL_ADDR - LINUX_INITRD_ADDR) >> 20)) MiB"
    local pool_mib=$(((0x40000000 + (mem_mib << 20) - LINUX_POOL_ADDR) >> 20))
    [ "$pool_mib" -gt $((linux_ram_mib + linux_ram_mib / 8 + 16)) ] ||
        die "--mem $mem leaves $pool_mib MiB for a guest of $linux_ram_mib MiB: give QEMU more (--mem)"
    linux_config="vcpus=$smp ram=$linux_ram_mib kernel=$(printf '0x%x+0x%x' $LINUX_KERNEL_ADDR "$kernel_size") initrd=$(printf '0x%x+0x%x' $LINUX_INITRD_ADDR "$initrd_size") pool=$LINUX_POOL_ADDR"
    # The console in the Unprotected alias of QEMU virt's PL011 (40-bit IPA space: bit 39).
    printf '%s' "console=ttyAMA0 earlycon=pl011,mmio32,0x8009000000 quiet rmm.challenge=$linux_challenge" \
        >"$out/bootargs"
    say "Linux $linux_version, $smp vCPUs, $linux_ram_mib MiB of guest RAM"
}

# QEMU arguments that load the guest and configure the VMM.
linux_qemu_args() {
    qemu+=(-device "loader,file=$linux_kernel,addr=$LINUX_KERNEL_ADDR,force-raw=on"
        -device "loader,file=$linux_initrd,addr=$LINUX_INITRD_ADDR,force-raw=on"
        -fw_cfg "name=opt/rmm/vmm,string=$linux_config"
        -fw_cfg "name=opt/rmm/vmm-bootargs,file=$out/bootargs")
}

# After the run: what the guest and the VMM said, and the attestation token checked against
# the challenge and the RIM the VMM computed. Fails unless the guest came up on every vCPU,
# attested, powered off, and every granule went back to the Normal world.
linux_report() {
    local text=$1 ok=0
    echo "Guest:"
    grep -E '^(guest: |realm-vmm: )' <<<"$text" | grep -v '^guest: token' | tail -n 25 | sed 's/^/  /'
    grep -q "^guest: Linux .* up, $smp CPUs" <<<"$text" || { echo "  the guest did not report $smp CPUs"; ok=1; }
    grep -q '^guest: attestation done' <<<"$text" || { echo "  no attestation"; ok=1; }
    grep -q '^realm-vmm: every granule went back to the Normal world' <<<"$text" ||
        { echo "  the VMM did not get every granule back"; ok=1; }
    # The check's own report goes to target/qemu/token.log too.
    if ! cargo run --quiet --release --locked -p rmm-token -- verify --log "$log" \
        --challenge "$linux_challenge" 2>&1 | tee "$out/token.log"; then
        echo "  the attestation token did not verify"
        ok=1
    fi
    return "$ok"
}
