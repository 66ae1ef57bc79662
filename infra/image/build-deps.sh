#!/bin/sh
# The dependency layer both images share: compiles every third-party crate of one workspace
# package, with no source of ours, so the layer is reused until a Cargo.toml or Cargo.lock
# changes. Run in the build stage from the workspace root, after the manifests are copied:
#
#   sh build-deps.sh <package>
#
# Every workspace member needs a manifest and a target, or cargo refuses to load the
# workspace: each member named in the root Cargo.toml's `members` (globs included, read from
# the file, so a new member needs no change here) gets a stub lib.rs and main.rs. A member
# whose manifest was not copied stops the build with its name.
set -eu
package=$1

members=$(awk '/^members *=/ {on = 1} on {sub(/#.*/, ""); print; if (/]/) exit}' Cargo.toml |
    sed -e 's/^members *=//' -e 's/[][",]/ /g')
for crate in $members; do
    test -f "$crate/Cargo.toml" || {
        echo "member $crate: Cargo.toml not copied" >&2
        exit 1
    }
    mkdir -p "$crate/src"
    : >"$crate/src/lib.rs"
    echo 'fn main() {}' >"$crate/src/main.rs"
done
cargo build --release --locked -p "$package"
