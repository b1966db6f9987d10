# bash completion for bpfq: `source <(bpfq completions bash)`, or save it as
# /usr/share/bash-completion/completions/bpfq. Candidates come from `bpfq __complete`, which
# reads the running kernel's BTF and the stdlib: targets, columns, field paths one step at a time.
_bpfq() {
    local bpfq=${COMP_WORDS[0]}
    command -v -- "$bpfq" >/dev/null 2>&1 || bpfq=bpfq
    local IFS=$'\n'
    COMPREPLY=($("$bpfq" __complete "$COMP_CWORD" "${COMP_WORDS[@]}" 2>/dev/null))
    # A path goes on with `.member`: no space after it.
    if [[ ${COMP_WORDS[COMP_CWORD]} == *.* ]]; then
        compopt -o nospace 2>/dev/null
    fi
}
complete -o default -F _bpfq bpfq
