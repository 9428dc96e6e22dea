#!/usr/bin/env bash
# tests/vm/vm-run.sh - run one command inside a throwaway qemu guest that has
# a real ALSA kernel (sequencer, virmidi, loopback), with this machine's
# files visible at the same paths.
#
#   tests/vm/vm-run.sh [--] COMMAND [ARG...]   run COMMAND (as root, in the
#                                              current directory) in the guest
#   tests/vm/vm-run.sh --check                 prepare everything, boot nothing;
#                                              exit 0 when a run can work
#
# Exit status: COMMAND's, or
#   77  skipped: qemu (or the kernel package) is not available here and cannot
#       be installed; one line "vm-run: skip: REASON" on stderr
#   99  the harness or the VM failed (not COMMAND); the guest console follows
#  124  PS_VM_TIMEOUT expired
#
# Model.  Nothing is installed into the host's /boot or /lib/modules and no
# disk image is built:
#   - the kernel and its modules come from Debian's linux-image package,
#     unpacked into the cache (PS_VM_CACHE) with a depmod run over it;
#   - a small initramfs holds static busybox, the few modules needed to reach
#     the host (virtio-pci, 9p, overlay) and our init script;
#   - the init mounts the host's / read-only over virtio-9p with a tmpfs
#     overlay on top, so host-built binaries and libraries run unchanged and
#     anything the guest writes is discarded; the module tree from the cache
#     is bind-mounted at /lib/modules/<guest version> so modprobe, modprobe -r
#     and kernel autoloading work in the guest;
#   - one read-write 9p share ("xfer") carries the command in and its stdout,
#     stderr and exit status out; the kernel console goes to a log file.
# Files written under PS_VM_SCRATCH (if set) persist: that directory is shared
# read-write at the same path.
#
# Knobs (environment):
#   PS_VM_CACHE=/tmp/phasorsync-vm   kernel, busybox and initramfs cache
#   PS_VM_KERNEL=linux-image-amd64   kernel package (meta packages are resolved)
#   PS_VM_MODULES="snd-seq snd-seq-dummy snd-virmidi snd-aloop snd-hrtimer"
#   PS_VM_QEMU=qemu-system-x86_64   the qemu binary (another name: never installed)
#   PS_VM_SMP=2  PS_VM_MEM=768 (MiB)  PS_VM_TIMEOUT=600 (s)
#   PS_VM_ENV="VAR ..."   host variables exported to COMMAND
#   PS_VM_SCRATCH=DIR     host directory shared read-write at the same path
#   PS_VM_CONSOLE=1       print the guest kernel console after the run
set -euo pipefail

CACHE=${PS_VM_CACHE:-/tmp/phasorsync-vm}
KERNEL_PKG=${PS_VM_KERNEL:-linux-image-amd64}
MODULES=${PS_VM_MODULES:-snd-seq snd-seq-dummy snd-virmidi snd-aloop snd-hrtimer}
SMP=${PS_VM_SMP:-2}
MEM=${PS_VM_MEM:-768}
TIMEOUT=${PS_VM_TIMEOUT:-600}
INIT_REV=4 # part of the initramfs name: change it when guest_init changes

EX_SKIP=77
EX_HARNESS=99

skip() { echo "vm-run: skip: $*" >&2; exit $EX_SKIP; }
fail() { echo "vm-run: error: $*" >&2; exit $EX_HARNESS; }
note() { echo "vm-run: $*" >&2; }

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

CHECK_ONLY=0
case "${1:-}" in
    --check) CHECK_ONLY=1 ;;
    --) shift ;;
    ""|-h|--help) usage ;;
esac
[ $CHECK_ONLY = 1 ] || [ $# -ge 1 ] || usage

# ------------------------------------------------------------ host tools
is_root() { [ "$(id -u)" = 0 ]; }

pkg_install() { # pkg_install PKG... (root only; quiet unless it fails)
    is_root || return 1
    command -v apt-get >/dev/null || return 1
    note "installing $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
        >/dev/null 2>&1 && return 0
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

QEMU=${PS_VM_QEMU:-qemu-system-x86_64}
need=()
[ "$QEMU" = qemu-system-x86_64 ] && ! command -v "$QEMU" >/dev/null && need+=(qemu-system-x86)
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' \
    || need+=(busybox-static)
command -v depmod >/dev/null || need+=(kmod)
command -v aseqdump >/dev/null || need+=(alsa-utils)
if [ ${#need[@]} -gt 0 ]; then
    pkg_install "${need[@]}" || skip "cannot install ${need[*]} (need root and apt)"
fi
command -v "$QEMU" >/dev/null || skip "$QEMU not available"
[ "$(uname -m)" = x86_64 ] || skip "host is $(uname -m); the guest kernel is Debian amd64"
"$QEMU" -accel help 2>/dev/null | grep -qx tcg || skip "$QEMU has no TCG accelerator"
[ -r /dev/null ] && [ -d /proc/self ] || skip "no /proc"

# ------------------------------------------------------------ kernel cache
mkdir -p "$CACHE"
exec 8>"$CACHE/lock"
flock 8 # one preparer at a time; runs themselves are independent

kernel_pkg_name() { # meta package (linux-image-amd64) -> versioned package
    local dep
    dep=$(apt-cache depends "$KERNEL_PKG" 2>/dev/null | awk '$1=="Depends:" && $2 ~ /^linux-image-/ {print $2; exit}')
    echo "${dep:-$KERNEL_PKG}"
}

KROOT_LINK="$CACHE/kernel-$KERNEL_PKG"
if [ ! -e "$KROOT_LINK/.ready" ]; then
    command -v apt-get >/dev/null || skip "no apt-get to fetch $KERNEL_PKG"
    pkg=$(kernel_pkg_name)
    if ! apt-cache show "$pkg" >/dev/null 2>&1; then
        is_root && apt-get update -qq >/dev/null 2>&1 || true
        pkg=$(kernel_pkg_name)
    fi
    note "fetching $pkg (once, into $CACHE)"
    dl="$CACHE/dl.$$"
    rm -rf "$dl"; mkdir -p "$dl"
    chmod 777 "$dl" # apt-get download as root drops to _apt for the transfer
    (cd "$dl" && apt-get download "$pkg" >/dev/null 2>&1) || {
        is_root && apt-get update -qq >/dev/null 2>&1 || true
        (cd "$dl" && apt-get download "$pkg" >&2)
    } || { rm -rf "$dl"; skip "cannot download $pkg (offline?)"; }
    deb=$(ls "$dl"/*.deb)
    kdir="$CACHE/$pkg"
    rm -rf "$kdir"; mkdir -p "$kdir"
    dpkg-deb -x "$deb" "$kdir" || fail "dpkg-deb -x $deb"
    rm -rf "$dl"
    kver=$(ls "$kdir/lib/modules")
    [ -n "$kver" ] && [ -f "$kdir/boot/vmlinuz-$kver" ] || fail "no kernel in $pkg"
    depmod -b "$kdir" "$kver" || fail "depmod for $kver"
    echo "$kver" >"$kdir/.kver"
    touch "$kdir/.ready"
    ln -sfn "$kdir" "$KROOT_LINK"
fi
KDIR=$(cd "$KROOT_LINK" && pwd -P)
KVER=$(cat "$KDIR/.kver")

# ------------------------------------------------------------ initramfs
INITRD="$KDIR/initrd-r$INIT_REV.cpio"
guest_init() {
    cat <<'EOF'
#!/bin/sh
# PID 1 of the PhasorSync test VM (written by tests/vm/vm-run.sh).
export PATH=/bin
/bin/busybox --install -s /bin
mount -t proc none /proc
mount -t sysfs none /sys
mount -t devtmpfs none /dev
die() { echo "ps-vm-init: $*"; echo "ps-vm-init: $*" >/x/err 2>/dev/null; poweroff -f; }
while read -r m; do insmod "/mod/$m" || die "insmod $m"; done </mod/load
O=trans=virtio,version=9p2000.L,msize=262144
mount -t 9p -o $O,cache=none xfer /x || die "mount xfer"
mount -t 9p -o $O,ro,cache=loose host /lower || die "mount host"
mount -t tmpfs -o mode=0755 none /upper
mkdir /upper/data /upper/work
R=/root
mount -t overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work none $R \
    || die "overlay"
for d in proc sys dev run; do mkdir -p $R/$d; done
mount -t proc none $R/proc
mount -t sysfs none $R/sys
mount -t devtmpfs none $R/dev
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 none $R/dev/pts
mount -t tmpfs -o mode=1777 none $R/dev/shm
mount -t tmpfs -o mode=0755 none $R/run
mkdir -p $R/x
mount --bind /x $R/x
KV=$(uname -r)
mkdir -p $R/lib/modules/$KV
mount --bind "/lower$(cat /x/moddir)" $R/lib/modules/$KV || die "modules bind"
if [ -s /x/scratch ]; then
    S=$(cat /x/scratch); mkdir -p "$R$S"
    mount -t 9p -o $O,cache=none scratch "$R$S" || die "mount scratch"
fi
# request_module() runs this helper: kmod lives in the chroot
printf '#!/bin/sh\nexec chroot /root /sbin/modprobe "$@"\n' >/bin/ps-modprobe
chmod 755 /bin/ps-modprobe
echo /bin/ps-modprobe >/proc/sys/kernel/modprobe
hostname ps-vm
chroot $R /sbin/modprobe -a $(cat /x/modules) >>/x/err 2>&1 || echo "ps-vm-init: modprobe failed" >>/x/err
echo booted >/x/booted
chroot $R /usr/bin/env -i PATH="$(cat /x/path)" HOME=/root LANG=C.UTF-8 PS_VM=1 \
    /bin/sh -c 'cd "$(cat /x/cwd)" && exec /bin/bash /x/cmd' </dev/null >>/x/out 2>>/x/err
echo $? >/x/status.tmp
mv /x/status.tmp /x/status
kill -9 -1 2>/dev/null
sync
umount -l $R/x 2>/dev/null
poweroff -f
EOF
}

if [ ! -s "$INITRD" ]; then
    note "building the initramfs (once)"
    t=$(mktemp -d "$CACHE/initrd.XXXXXX")
    mkdir -p "$t"/{bin,proc,sys,dev,mod,x,lower,upper,root}
    cp /bin/busybox "$t/bin/busybox"
    ln -s busybox "$t/bin/sh"
    modprobe -d "$KDIR" -S "$KVER" --show-depends -a virtio_pci 9pnet_virtio 9p overlay \
        | awk '$1 == "insmod" { print $2 }' | awk '!seen[$0]++' >"$t/list"
    [ -s "$t/list" ] || fail "cannot resolve the boot modules of $KVER"
    while read -r ko; do
        case "$ko" in
            *.ko) cp "$ko" "$t/mod/" ;;
            *.ko.xz) xz -dc "$ko" >"$t/mod/$(basename "$ko" .xz)"; ko=${ko%.xz} ;;
            *.ko.zst) zstd -qdc "$ko" >"$t/mod/$(basename "$ko" .zst)"; ko=${ko%.zst} ;;
            *) fail "unexpected module file $ko" ;;
        esac
        basename "$ko" >>"$t/mod/load"
    done <"$t/list"
    rm "$t/list"
    guest_init >"$t/init"
    chmod 755 "$t/init"
    (cd "$t" && find . | LC_ALL=C sort | /bin/busybox cpio -o -H newc 2>/dev/null) >"$INITRD.tmp"
    mv "$INITRD.tmp" "$INITRD"
    rm -rf "$t"
fi
flock -u 8
exec 8>&-

if [ $CHECK_ONLY = 1 ]; then
    echo "vm-run: ready (kernel $KVER, qemu $("$QEMU" -version | sed -n '1s/.*version \([^ ]*\).*/\1/p'))"
    exit 0
fi

# ------------------------------------------------------------ one run
RUN=$(mktemp -d /tmp/ps-vm-run.XXXXXX)
X="$RUN/xfer"
mkdir -p "$X"
qpid=
cleanup() {
    [ -n "$qpid" ] && kill "$qpid" 2>/dev/null
    rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

{
    for v in ${PS_VM_ENV:-}; do
        [ -n "${!v+x}" ] && printf 'export %s=%q\n' "$v" "${!v}"
    done
    printf '%q ' "$@"
    echo
} >"$X/cmd"
pwd -P >"$X/cwd"
echo "$PATH" >"$X/path"
echo "$MODULES" >"$X/modules"
echo "$KDIR/lib/modules/$KVER" >"$X/moddir"
: >"$X/out"
: >"$X/err"
qscratch=()
if [ -n "${PS_VM_SCRATCH:-}" ]; then
    mkdir -p "$PS_VM_SCRATCH"
    s=$(cd "$PS_VM_SCRATCH" && pwd -P)
    echo "$s" >"$X/scratch"
    qscratch=(-fsdev "local,id=scratch,path=${s//,/,,},security_model=none"
              -device virtio-9p-pci,fsdev=scratch,mount_tag=scratch)
fi

t0=$(date +%s.%N)
set +e
timeout -k 5 "$TIMEOUT" "$QEMU" \
    -machine pc -accel tcg,thread=multi -cpu max -smp "$SMP" -m "$MEM" \
    -nodefaults -no-user-config -display none -no-reboot -nic none \
    -kernel "$KDIR/boot/vmlinuz-$KVER" -initrd "$INITRD" \
    -append "console=ttyS0 rdinit=/init panic=-1 quiet loglevel=3 tsc=reliable no_timer_check" \
    -serial "file:$RUN/console.log" \
    -fsdev "local,id=host,path=/,security_model=none,readonly=on,multidevs=remap" \
    -device virtio-9p-pci,fsdev=host,mount_tag=host \
    -fsdev "local,id=xfer,path=$X,security_model=none" \
    -device virtio-9p-pci,fsdev=xfer,mount_tag=xfer \
    "${qscratch[@]}" \
    </dev/null >"$RUN/qemu.log" 2>&1 &
qpid=$!
wait $qpid
qrc=$?
qpid=
set -e
t1=$(date +%s.%N)

cat "$X/out"
cat "$X/err" >&2
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
if [ -s "$X/status" ]; then
    rc=$(cat "$X/status")
    note "guest $KVER ran the command in ${secs}s: exit $rc"
    [ "${PS_VM_CONSOLE:-0}" = 1 ] && cat "$RUN/console.log" >&2
    exit "$rc"
fi
if [ $qrc = 124 ] || [ $qrc = 137 ]; then
    note "timeout after ${TIMEOUT}s"
    rc=124
else
    note "the VM stopped without an exit status (qemu exit $qrc)"
    rc=$EX_HARNESS
fi
[ -e "$X/booted" ] || note "the guest never finished booting"
{ echo "--- qemu:"; cat "$RUN/qemu.log"; echo "--- guest console (last 30 lines):"
  tail -n 30 "$RUN/console.log"; } >&2
exit $rc
