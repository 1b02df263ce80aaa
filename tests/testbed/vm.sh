#!/usr/bin/env bash
# The test bed's second host type: qemu virtual machines, real servers as far as the
# collection can tell (their own kernel, cgroup v2 unified, systemd as PID 1, reached over
# SSH, a reboot is a reboot). Beside the podman hosts of fleet.sh; see docs/TESTBED.md.
#   tests/testbed/vm.sh build SUITE                 build the image (bookworm or trixie), cached
#   tests/testbed/vm.sh up NAME SUITE SSH_PORT [HOST_PORT:GUEST_PORT ...]
#                                                   start VM NAME from a fresh copy of the image,
#                                                   SSH on 127.0.0.1:SSH_PORT, wait until it answers
#   tests/testbed/vm.sh reboot NAME                 reboot it and wait until SSH answers again
#   tests/testbed/vm.sh down NAME                   stop it and remove its disk
#   tests/testbed/vm.sh ssh NAME [COMMAND...]       a shell or a command on it
#   tests/testbed/vm.sh key                         print the private key's path
# KVM does not run guests on the build machine: qemu emulates the CPU (TCG, two threads).
# The image is rebuilt only when its recipe changes: this file, the suite, the package list
# and the SSH key baked into it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache="$root/.cache/testbed/vm"
MIRROR=${OCISTACK_DEBIAN_MIRROR:-http://deb.debian.org/debian}
MEMORY=${OCISTACK_VM_MEMORY:-2560}
# Real servers have AppArmor (the workloads refuse to start containers without apparmor_parser
# where the kernel enforces it). initramfs-tools makes the kernel's initrd once, at build time.
PACKAGES=linux-image-cloud-amd64,systemd,systemd-sysv,dbus,udev,kmod,initramfs-tools,zstd,python3,python3-apt,openssh-server,iproute2,ca-certificates,procps,iputils-ping,gnupg,apparmor
SSH_OPTS=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o IdentitiesOnly=yes
  -o ServerAliveInterval=5 -o ServerAliveCountMax=3 -o ConnectTimeout=10)
BOOT_TIMEOUT=${OCISTACK_VM_BOOT_TIMEOUT:-600}

die() {
  echo "vm.sh: $*" >&2
  exit 1
}

key() {
  mkdir -p "$cache"
  [ -f "$cache/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C ocistack-testbed-vm -f "$cache/id_ed25519"
  echo "$cache/id_ed25519"
}

image_dir() {
  local suite=$1 hash
  hash=$( (cat "$0" && echo "$suite $PACKAGES" && cat "$(key).pub") | sha256sum | cut -c1-12)
  echo "$cache/images/$suite-$hash"
}

build() {
  local suite=${1:?suite}
  case $suite in bookworm | trixie) ;; *) die "unknown suite $suite (bookworm or trixie)" ;; esac
  local dir
  dir=$(image_dir "$suite")
  if [ -f "$dir/disk.img" ] && [ -f "$dir/vmlinuz" ] && [ -f "$dir/initrd.img" ]; then
    echo "vm image up to date: $dir"
    return
  fi
  local t0 work pub
  t0=$(date +%s)
  pub=$(cat "$(key).pub")
  mkdir -p "$cache/images"
  work=$(mktemp -d "$cache/images/build-$suite.XXXXXX")
  # Hooks: DHCP on the one NIC by systemd-networkd (qemu's user network), qemu's DNS, the root
  # file system, root's key, no initramfs rebuild on later package installs (the initrd is
  # copied out below; rebuilding it on an emulated CPU costs minutes per apt run), an empty
  # machine-id (made on first boot), an apt update stamp dated 1970 (cache_valid_time refreshes).
  mmdebstrap --quiet --variant=minbase --include="$PACKAGES" \
    --customize-hook='printf "[Match]\nName=eth0\n\n[Network]\nDHCP=ipv4\n" > "$1/etc/systemd/network/20-eth0.network"' \
    --customize-hook='chroot "$1" systemctl enable systemd-networkd.service ssh.service' \
    --customize-hook='rm -f "$1/etc/resolv.conf" && echo "nameserver 10.0.2.3" > "$1/etc/resolv.conf"' \
    --customize-hook='echo "/dev/vda / ext4 defaults,errors=remount-ro 0 1" > "$1/etc/fstab"' \
    --customize-hook='echo "ocistack-vm" > "$1/etc/hostname" && printf "127.0.0.1 localhost\n127.0.1.1 ocistack-vm\n" > "$1/etc/hosts"' \
    --customize-hook="mkdir -p -m 700 \"\$1/root/.ssh\" && echo '$pub' > \"\$1/root/.ssh/authorized_keys\"" \
    --customize-hook='sed -i "s/^update_initramfs=.*/update_initramfs=no/" "$1/etc/initramfs-tools/update-initramfs.conf"' \
    --customize-hook='rm -f "$1/etc/machine-id" && touch "$1/etc/machine-id"' \
    --customize-hook='mkdir -p "$1/var/lib/apt/periodic" && touch -d @0 "$1/var/lib/apt/periodic/update-success-stamp"' \
    --customize-hook='cp "$1"/boot/vmlinuz-* "$1/../vmlinuz" && cp "$1"/boot/initrd.img-* "$1/../initrd.img"' \
    "$suite" "$work/root" "$MIRROR"
  truncate -s 8G "$work/disk.img"
  mkfs.ext4 -q -F -L root -d "$work/root" "$work/disk.img"
  rm -rf "$work/root"
  # Older images of this suite go; a running VM keeps its own copy of the disk.
  rm -rf "$cache/images/$suite"-*
  mv "$work" "$dir"
  echo "vm image built: $dir ($(($(date +%s) - t0))s)"
}

run_dir() { echo "$cache/run/${1:?name}"; }

ssh_vm() {
  local name=$1 dir
  shift
  dir=$(run_dir "$name")
  [ -f "$dir/ssh_port" ] || die "no VM $name"
  ssh "${SSH_OPTS[@]}" -i "$(key)" -p "$(cat "$dir/ssh_port")" root@127.0.0.1 "$@"
}

wait_ssh() {
  local name=$1 t0=$2
  while ! ssh_vm "$name" true 2>/dev/null; do
    [ $(($(date +%s) - t0)) -lt "$BOOT_TIMEOUT" ] || {
      tail -n 30 "$(run_dir "$name")/console.log" >&2 || true
      die "$name: no SSH after ${BOOT_TIMEOUT}s"
    }
    alive "$name" || {
      tail -n 30 "$(run_dir "$name")/console.log" >&2 || true
      die "$name: qemu exited"
    }
    sleep 3
  done
}

alive() {
  local pidfile
  pidfile="$(run_dir "$1")/qemu.pid"
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

up() {
  local name=${1:?name} suite=${2:?suite} port=${3:?ssh port}
  shift 3
  local dir img fwd=",hostfwd=tcp:127.0.0.1:$port-:22" f t0
  for f in "$@"; do
    [[ $f =~ ^[0-9]+:[0-9]+$ ]] || die "forward $f is not HOST_PORT:GUEST_PORT"
    fwd+=",hostfwd=tcp:127.0.0.1:${f%%:*}-:${f##*:}"
  done
  dir=$(run_dir "$name")
  ! alive "$name" || die "VM $name is running already (vm.sh down $name)"
  build "$suite"
  img=$(image_dir "$suite")
  rm -rf "$dir"
  mkdir -p "$dir"
  echo "$port" > "$dir/ssh_port"
  cp --sparse=always "$img/disk.img" "$dir/disk.img"
  t0=$(date +%s)
  qemu-system-x86_64 -name "ocistack-$name" -accel tcg,thread=multi -smp 2 -m "$MEMORY" \
    -kernel "$img/vmlinuz" -initrd "$img/initrd.img" \
    -append "root=/dev/vda rw console=ttyS0 net.ifnames=0 quiet" \
    -drive "file=$dir/disk.img,if=virtio,format=raw" \
    -netdev "user,id=n0$fwd" -device virtio-net-pci,netdev=n0 \
    -display none -monitor none -serial "file:$dir/console.log" \
    -daemonize -pidfile "$dir/qemu.pid"
  wait_ssh "$name" "$t0"
  echo "vm $name ($suite) answers on 127.0.0.1:$port after $(($(date +%s) - t0))s"
}

reboot_vm() {
  local name=${1:?name} t0 boot_id
  boot_id=$(ssh_vm "$name" cat /proc/sys/kernel/random/boot_id)
  t0=$(date +%s)
  ssh_vm "$name" systemctl reboot || true
  while [ "$(ssh_vm "$name" cat /proc/sys/kernel/random/boot_id 2>/dev/null || true)" = "$boot_id" ]; do sleep 3; done
  wait_ssh "$name" "$t0"
  echo "vm $name rebooted in $(($(date +%s) - t0))s"
}

down() {
  local name=${1:?name} dir pid i
  dir=$(run_dir "$name")
  if alive "$name"; then
    pid=$(cat "$dir/qemu.pid")
    kill "$pid"
    for i in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}

case ${1:-} in
  build) build "${2:-}" ;;
  up) up "${@:2}" ;;
  reboot) reboot_vm "${2:-}" ;;
  down) down "${2:-}" ;;
  ssh) ssh_vm "${@:2}" ;;
  key) key ;;
  *) die "usage: vm.sh build|up|reboot|down|ssh|key ... (see the head of this file)" ;;
esac
