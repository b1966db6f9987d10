# fish completion for bpfq: `bpfq completions fish | source`, or save it as
# ~/.config/fish/completions/bpfq.fish. Candidates come from `bpfq __complete`.
function __bpfq_complete
    set -l words (commandline -opc)
    set -l current (commandline -ct)
    set -l index (count $words)
    $words[1] __complete $index $words $current 2>/dev/null
end
complete -c bpfq -f -a '(__bpfq_complete)'
