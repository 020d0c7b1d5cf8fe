#!/usr/bin/env bash
# Measures what the heartbeat (heartbeat-proto + heartbeat-embassy, one node monitoring 8 peers)
# adds to an embassy-net firmware: builds the two footprint images, runs both under QEMU (each
# must pass), and subtracts their section sizes as read from the ELF files by `size -A`.
#   flash = .vector_table + .text + .rodata + .data (initial values live in flash)
#   RAM   = .data + .bss + .uninit (all static; the images print their stack peak separately)
set -euo pipefail
cd "$(dirname "$0")"

cargo build --release --bins
elf=target/thumbv7em-none-eabihf/release

for image in footprint-baseline footprint-node; do
    echo "--- $image under QEMU"
    cargo run --release --quiet --bin "$image"
done

measure() {
    size -A "$elf/$1" | awk '
        $1 == ".vector_table" || $1 == ".text" || $1 == ".rodata" { flash += $2 }
        $1 == ".data" { flash += $2; ram += $2 }
        $1 == ".bss" || $1 == ".uninit" { ram += $2 }
        END { print flash, ram }'
}

read -r base_flash base_ram < <(measure footprint-baseline)
read -r node_flash node_ram < <(measure footprint-node)
echo
printf '%-22s %8s %8s\n' image flash RAM
printf '%-22s %8d %8d\n' footprint-baseline "$base_flash" "$base_ram"
printf '%-22s %8d %8d\n' footprint-node "$node_flash" "$node_ram"
awk -v f=$((node_flash - base_flash)) -v r=$((node_ram - base_ram)) \
    'BEGIN { printf "%-22s %8d %8d   (%.1f KiB flash, %.1f KiB RAM)\n", "heartbeat (difference)", f, r, f / 1024, r / 1024 }'
