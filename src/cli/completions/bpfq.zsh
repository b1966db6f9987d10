#compdef bpfq
# zsh completion for bpfq: `source <(bpfq completions zsh)`, or save it as _bpfq in $fpath.
# Candidates come from `bpfq __complete` (running kernel's BTF and the stdlib).
_bpfq() {
    local -a candidates
    candidates=("${(@f)$(${words[1]} __complete $((CURRENT - 1)) "${words[@]}" 2>/dev/null)}")
    candidates=(${candidates:#})
    if (( ${#candidates} == 0 )); then
        _files
    elif [[ ${words[CURRENT]} == *.* ]]; then
        compadd -Q -S '' -- $candidates
    else
        compadd -Q -- $candidates
    fi
}
if (( $+functions[compdef] )); then
    compdef _bpfq bpfq
fi
