#!/bin/sh
# The cargo runner (.cargo/config.toml): boots the image given as $1 under QEMU `virt`
# with user networking. One flag switches the NIC:
#
#   cargo run --release                 # virtio-net on virtio-mmio (modern)
#   NIC=e1000 cargo run --release       # e1000 on PCI
#
# APPEND adds kernel command-line words (see README.md), e.g. APPEND=pcap=1.
set -eu
elf=$1
shift
nic=${NIC:-virtio-mmio}
mac=52:54:00:12:34:56
case $nic in
virtio-mmio) dev="-global virtio-mmio.force-legacy=false -device virtio-net-device,netdev=n0,mac=$mac" ;;
e1000) dev="-device e1000,netdev=n0,romfile=,mac=$mac" ;;
*)
    echo "qemu-run.sh: NIC must be virtio-mmio or e1000, not '$nic'" >&2
    exit 2
    ;;
esac
# shellcheck disable=SC2086 # $dev is a list of arguments
exec qemu-system-riscv64 -machine virt -accel tcg -nographic -bios default -m 128M -smp 1 \
    -no-reboot -netdev user,id=n0 $dev -kernel "$elf" \
    -append "nic=$nic a=10.0.2.15 b=10.0.2.16 peer=10.0.2.2 ${APPEND:-}"
