# Reading image profiles (sourced by images/build-image and images/run).
# A profile is a text file of `KEY VALUE...` lines; '#' starts a comment.

# profile_values FILE KEY: every value given for KEY, one per line.
profile_values() {
    awk -v key="$2" '
        /^[ \t]*#/ || NF == 0 { next }
        $1 == key { sub(/^[ \t]*[^ \t]+[ \t]*/, ""); print }' "$1"
}

# profile_value FILE KEY DEFAULT: the last value for KEY, or DEFAULT.
profile_value() {
    v=$(profile_values "$1" "$2" | tail -n 1)
    if [ -n "$v" ]; then echo "$v"; else echo "$3"; fi
}

# profile_check FILE: fails with a message on an unknown key.
profile_check() {
    bad=$(awk '/^[ \t]*#/ || NF == 0 { next }
               $1 !~ /^(size|fstype|cmdline|rootfs|package|program|port|module|disk)$/ { print NR ": " $1 }' "$1")
    if [ -n "$bad" ]; then
        echo "$1: unknown key at line $bad" >&2
        return 1
    fi
}
