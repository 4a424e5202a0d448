# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_tinykv_global_optspecs
    string join \n d/dir= wait= sync= q/quiet f/file= bail h/help V/version
end

function __fish_tinykv_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_tinykv_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_tinykv_using_subcommand
    set -l cmd (__fish_tinykv_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c tinykv -n "__fish_tinykv_needs_command" -s d -l dir -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]' -r -F
complete -c tinykv -n "__fish_tinykv_needs_command" -l wait -d 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]' -r
complete -c tinykv -n "__fish_tinykv_needs_command" -l sync -d 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)' -r -f -a "always\t'Every acknowledged write is fsynced first'
never\t'Writes are left to the OS and fsynced when tinykv exits'"
complete -c tinykv -n "__fish_tinykv_needs_command" -s f -l file -d 'Run FILE as a script: one command a line, as in the REPL' -r -F
complete -c tinykv -n "__fish_tinykv_needs_command" -s q -l quiet -d 'No messages on stderr for keys that are not found'
complete -c tinykv -n "__fish_tinykv_needs_command" -l bail -d 'In a script, stop at the first line that fails'
complete -c tinykv -n "__fish_tinykv_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tinykv -n "__fish_tinykv_needs_command" -s V -l version -d 'Print version'
complete -c tinykv -n "__fish_tinykv_needs_command" -f -a "set" -d 'Store VALUE under KEY (VALUE omitted or `-`: read it from stdin, byte for byte)'
complete -c tinykv -n "__fish_tinykv_needs_command" -f -a "incr" -d 'Add BY (default 1) to the signed 64-bit integer in KEY (missing: 0) and print the sum, atomically'
complete -c tinykv -n "__fish_tinykv_needs_command" -f -a "decr" -d 'Subtract BY (default 1) from the signed 64-bit integer in KEY (missing: 0) and print the result, atomically'
complete -c tinykv -n "__fish_tinykv_needs_command" -f -a "expire" -d 'Make KEY expire after DURATION (exit 1 if it is not set)'
complete -c tinykv -n "__fish_tinykv_needs_command" -f -a "persist" -d 'Make KEY never expire (exit 1 if it is not set)'
complete -c tinykv -n "__fish_tinykv_needs_command" -f -a "ttl" -d 'Print the seconds KEY has left, or `none` when it does not expire (exit 1 if it is not set)'
complete -c tinykv -n "__fish_tinykv_needs_command" -f -a "pop" -d 'Remove the smallest key (with --prefix, of those starting with P) and print KEY<TAB>VALUE, atomically (exit 1 when there is none)'
complete -c tinykv -n "__fish_tinykv_needs_command" -f -a "rename" -d 'Move the value of OLD (and its expiry) to NEW, atomically (exit 1 if OLD is not set)'
complete -c tinykv -n "__fish_tinykv_needs_command" -f -a "get" -d 'Print the value of each KEY followed by a newline'
complete -c tinykv -n "__fish_tinykv_needs_command" -f -a "del" -d 'Delete each KEY (exit 1 if any was not set)'
complete -c tinykv -n "__fish_tinykv_needs_command" -f -a "exists" -d 'Exit 0 when every KEY is set, else 1 (prints nothing)'
complete -c tinykv -n "__fish_tinykv_needs_command" -f -a "count" -d 'Print the number of keys (with --prefix, of those starting with P)'
complete -c tinykv -n "__fish_tinykv_needs_command" -f -a "keys" -d 'List keys, sorted, one a line (escaped as in the tsv dump format)'
complete -c tinykv -n "__fish_tinykv_needs_command" -f -a "dump" -d 'Write every live pair, sorted by key, to stdout'
complete -c tinykv -n "__fish_tinykv_needs_command" -f -a "load" -d 'Store every pair of a dump atomically: all of it, or none of it if any line is bad'
complete -c tinykv -n "__fish_tinykv_needs_command" -f -a "backup" -d 'Copy the database, as it is at one moment, into DEST (a new or empty directory), even while it is in use'
complete -c tinykv -n "__fish_tinykv_needs_command" -f -a "compact" -d 'Rewrite the live data now, unless that cannot make the files smaller (it says why); print the bytes before and after and the time taken'
complete -c tinykv -n "__fish_tinykv_needs_command" -f -a "check" -d 'Verify every record\'s CRC and every file\'s structure, read-only (exit 1 when damaged)'
complete -c tinykv -n "__fish_tinykv_needs_command" -f -a "recover" -d 'Salvage every intact record, cut torn tails, rebuild indexes; unusable bytes go to DIR/lost+found/'
complete -c tinykv -n "__fish_tinykv_needs_command" -f -a "stats" -d 'Print keys, live and dead bytes, files and the last compaction'
complete -c tinykv -n "__fish_tinykv_needs_command" -f -a "serve" -d 'Serve the database over the Redis protocol to many clients at once (until SIGINT or SIGTERM)'
complete -c tinykv -n "__fish_tinykv_needs_command" -f -a "push" -d 'Copy every live pair, with its expiry, into a running Redis or Valkey, a Redis Cluster included'
complete -c tinykv -n "__fish_tinykv_needs_command" -f -a "generate" -d 'Print the man page or a shell completion script'
complete -c tinykv -n "__fish_tinykv_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tinykv -n "__fish_tinykv_using_subcommand set" -l value -d 'The value, taken as it is: `--value -` stores the one byte `-`' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand set" -l if-eq -d 'Only if KEY holds exactly OLD (compare-and-set)' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand set" -l ttl -d 'The key expires after DURATION: seconds, or a number with s, m, h or d (90, 30s, 10m, 2h, 7d)' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand set" -l expire-at -d 'The key expires at this Unix time, in seconds' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand set" -s d -l dir -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]' -r -F
complete -c tinykv -n "__fish_tinykv_using_subcommand set" -l wait -d 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand set" -l sync -d 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)' -r -f -a "always\t'Every acknowledged write is fsynced first'
never\t'Writes are left to the OS and fsynced when tinykv exits'"
complete -c tinykv -n "__fish_tinykv_using_subcommand set" -l nx -d 'Only if KEY is not set'
complete -c tinykv -n "__fish_tinykv_using_subcommand set" -l xx -d 'Only if KEY is set'
complete -c tinykv -n "__fish_tinykv_using_subcommand set" -s q -l quiet -d 'No messages on stderr for keys that are not found'
complete -c tinykv -n "__fish_tinykv_using_subcommand set" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tinykv -n "__fish_tinykv_using_subcommand incr" -l by -d 'The step, as an option' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand incr" -s d -l dir -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]' -r -F
complete -c tinykv -n "__fish_tinykv_using_subcommand incr" -l wait -d 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand incr" -l sync -d 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)' -r -f -a "always\t'Every acknowledged write is fsynced first'
never\t'Writes are left to the OS and fsynced when tinykv exits'"
complete -c tinykv -n "__fish_tinykv_using_subcommand incr" -s q -l quiet -d 'No messages on stderr for keys that are not found'
complete -c tinykv -n "__fish_tinykv_using_subcommand incr" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tinykv -n "__fish_tinykv_using_subcommand decr" -l by -d 'The step, as an option' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand decr" -s d -l dir -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]' -r -F
complete -c tinykv -n "__fish_tinykv_using_subcommand decr" -l wait -d 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand decr" -l sync -d 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)' -r -f -a "always\t'Every acknowledged write is fsynced first'
never\t'Writes are left to the OS and fsynced when tinykv exits'"
complete -c tinykv -n "__fish_tinykv_using_subcommand decr" -s q -l quiet -d 'No messages on stderr for keys that are not found'
complete -c tinykv -n "__fish_tinykv_using_subcommand decr" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tinykv -n "__fish_tinykv_using_subcommand expire" -s d -l dir -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]' -r -F
complete -c tinykv -n "__fish_tinykv_using_subcommand expire" -l wait -d 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand expire" -l sync -d 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)' -r -f -a "always\t'Every acknowledged write is fsynced first'
never\t'Writes are left to the OS and fsynced when tinykv exits'"
complete -c tinykv -n "__fish_tinykv_using_subcommand expire" -s q -l quiet -d 'No messages on stderr for keys that are not found'
complete -c tinykv -n "__fish_tinykv_using_subcommand expire" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tinykv -n "__fish_tinykv_using_subcommand persist" -s d -l dir -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]' -r -F
complete -c tinykv -n "__fish_tinykv_using_subcommand persist" -l wait -d 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand persist" -l sync -d 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)' -r -f -a "always\t'Every acknowledged write is fsynced first'
never\t'Writes are left to the OS and fsynced when tinykv exits'"
complete -c tinykv -n "__fish_tinykv_using_subcommand persist" -s q -l quiet -d 'No messages on stderr for keys that are not found'
complete -c tinykv -n "__fish_tinykv_using_subcommand persist" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tinykv -n "__fish_tinykv_using_subcommand ttl" -s d -l dir -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]' -r -F
complete -c tinykv -n "__fish_tinykv_using_subcommand ttl" -l wait -d 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand ttl" -l sync -d 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)' -r -f -a "always\t'Every acknowledged write is fsynced first'
never\t'Writes are left to the OS and fsynced when tinykv exits'"
complete -c tinykv -n "__fish_tinykv_using_subcommand ttl" -s q -l quiet -d 'No messages on stderr for keys that are not found'
complete -c tinykv -n "__fish_tinykv_using_subcommand ttl" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tinykv -n "__fish_tinykv_using_subcommand pop" -l prefix -d 'Only keys starting with P' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand pop" -s d -l dir -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]' -r -F
complete -c tinykv -n "__fish_tinykv_using_subcommand pop" -l wait -d 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand pop" -l sync -d 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)' -r -f -a "always\t'Every acknowledged write is fsynced first'
never\t'Writes are left to the OS and fsynced when tinykv exits'"
complete -c tinykv -n "__fish_tinykv_using_subcommand pop" -s q -l quiet -d 'No messages on stderr for keys that are not found'
complete -c tinykv -n "__fish_tinykv_using_subcommand pop" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tinykv -n "__fish_tinykv_using_subcommand rename" -s d -l dir -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]' -r -F
complete -c tinykv -n "__fish_tinykv_using_subcommand rename" -l wait -d 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand rename" -l sync -d 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)' -r -f -a "always\t'Every acknowledged write is fsynced first'
never\t'Writes are left to the OS and fsynced when tinykv exits'"
complete -c tinykv -n "__fish_tinykv_using_subcommand rename" -l nx -d 'Only if NEW is not set (exit 1 otherwise)'
complete -c tinykv -n "__fish_tinykv_using_subcommand rename" -s q -l quiet -d 'No messages on stderr for keys that are not found'
complete -c tinykv -n "__fish_tinykv_using_subcommand rename" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tinykv -n "__fish_tinykv_using_subcommand get" -s d -l dir -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]' -r -F
complete -c tinykv -n "__fish_tinykv_using_subcommand get" -l wait -d 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand get" -l sync -d 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)' -r -f -a "always\t'Every acknowledged write is fsynced first'
never\t'Writes are left to the OS and fsynced when tinykv exits'"
complete -c tinykv -n "__fish_tinykv_using_subcommand get" -l raw -d 'Print the exact bytes of the value, with no newline added (one KEY only)'
complete -c tinykv -n "__fish_tinykv_using_subcommand get" -s q -l quiet -d 'No messages on stderr for keys that are not found'
complete -c tinykv -n "__fish_tinykv_using_subcommand get" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tinykv -n "__fish_tinykv_using_subcommand del" -s d -l dir -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]' -r -F
complete -c tinykv -n "__fish_tinykv_using_subcommand del" -l wait -d 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand del" -l sync -d 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)' -r -f -a "always\t'Every acknowledged write is fsynced first'
never\t'Writes are left to the OS and fsynced when tinykv exits'"
complete -c tinykv -n "__fish_tinykv_using_subcommand del" -s q -l quiet -d 'No messages on stderr for keys that are not found'
complete -c tinykv -n "__fish_tinykv_using_subcommand del" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tinykv -n "__fish_tinykv_using_subcommand exists" -s d -l dir -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]' -r -F
complete -c tinykv -n "__fish_tinykv_using_subcommand exists" -l wait -d 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand exists" -l sync -d 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)' -r -f -a "always\t'Every acknowledged write is fsynced first'
never\t'Writes are left to the OS and fsynced when tinykv exits'"
complete -c tinykv -n "__fish_tinykv_using_subcommand exists" -s q -l quiet -d 'No messages on stderr for keys that are not found'
complete -c tinykv -n "__fish_tinykv_using_subcommand exists" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tinykv -n "__fish_tinykv_using_subcommand count" -l prefix -d 'Only keys starting with P' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand count" -s d -l dir -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]' -r -F
complete -c tinykv -n "__fish_tinykv_using_subcommand count" -l wait -d 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand count" -l sync -d 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)' -r -f -a "always\t'Every acknowledged write is fsynced first'
never\t'Writes are left to the OS and fsynced when tinykv exits'"
complete -c tinykv -n "__fish_tinykv_using_subcommand count" -s q -l quiet -d 'No messages on stderr for keys that are not found'
complete -c tinykv -n "__fish_tinykv_using_subcommand count" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tinykv -n "__fish_tinykv_using_subcommand keys" -l prefix -d 'Only keys starting with P' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand keys" -l glob -d 'Only keys matching PAT, a Redis glob: * any bytes, ? one byte, [abc], [^a], [a-z], \\\\x a literal x' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand keys" -l start -d 'Only keys at or after K' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand keys" -l end -d 'Only keys before K' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand keys" -l limit -d 'At most N keys' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand keys" -s d -l dir -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]' -r -F
complete -c tinykv -n "__fish_tinykv_using_subcommand keys" -l wait -d 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand keys" -l sync -d 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)' -r -f -a "always\t'Every acknowledged write is fsynced first'
never\t'Writes are left to the OS and fsynced when tinykv exits'"
complete -c tinykv -n "__fish_tinykv_using_subcommand keys" -s 0 -l null -d 'Write the raw bytes of each key followed by a NUL byte (for xargs -0)'
complete -c tinykv -n "__fish_tinykv_using_subcommand keys" -s q -l quiet -d 'No messages on stderr for keys that are not found'
complete -c tinykv -n "__fish_tinykv_using_subcommand keys" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tinykv -n "__fish_tinykv_using_subcommand dump" -l format -d 'The dump format: tsv, jsonl, resp (Redis SET commands) or rdb (a Redis RDB file)' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand dump" -l prefix -d 'Only keys starting with P' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand dump" -l glob -d 'Only keys matching PAT, a Redis glob: * any bytes, ? one byte, [abc], [^a], [a-z], \\\\x a literal x' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand dump" -l start -d 'Only keys at or after K' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand dump" -l end -d 'Only keys before K' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand dump" -l limit -d 'At most N keys' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand dump" -s d -l dir -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]' -r -F
complete -c tinykv -n "__fish_tinykv_using_subcommand dump" -l wait -d 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand dump" -l sync -d 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)' -r -f -a "always\t'Every acknowledged write is fsynced first'
never\t'Writes are left to the OS and fsynced when tinykv exits'"
complete -c tinykv -n "__fish_tinykv_using_subcommand dump" -s q -l quiet -d 'No messages on stderr for keys that are not found'
complete -c tinykv -n "__fish_tinykv_using_subcommand dump" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tinykv -n "__fish_tinykv_using_subcommand load" -l format -d 'The dump format [default: from FILE\'s extension (.tsv, .jsonl, .resp, .rdb), else tsv]' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand load" -s d -l dir -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]' -r -F
complete -c tinykv -n "__fish_tinykv_using_subcommand load" -l wait -d 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand load" -l sync -d 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)' -r -f -a "always\t'Every acknowledged write is fsynced first'
never\t'Writes are left to the OS and fsynced when tinykv exits'"
complete -c tinykv -n "__fish_tinykv_using_subcommand load" -l replace -d 'Make the database hold exactly the dump\'s pairs: every other key is deleted, in the same atomic step'
complete -c tinykv -n "__fish_tinykv_using_subcommand load" -s q -l quiet -d 'No messages on stderr for keys that are not found'
complete -c tinykv -n "__fish_tinykv_using_subcommand load" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tinykv -n "__fish_tinykv_using_subcommand backup" -s d -l dir -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]' -r -F
complete -c tinykv -n "__fish_tinykv_using_subcommand backup" -l wait -d 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand backup" -l sync -d 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)' -r -f -a "always\t'Every acknowledged write is fsynced first'
never\t'Writes are left to the OS and fsynced when tinykv exits'"
complete -c tinykv -n "__fish_tinykv_using_subcommand backup" -s q -l quiet -d 'No messages on stderr for keys that are not found'
complete -c tinykv -n "__fish_tinykv_using_subcommand backup" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tinykv -n "__fish_tinykv_using_subcommand compact" -s d -l dir -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]' -r -F
complete -c tinykv -n "__fish_tinykv_using_subcommand compact" -l wait -d 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand compact" -l sync -d 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)' -r -f -a "always\t'Every acknowledged write is fsynced first'
never\t'Writes are left to the OS and fsynced when tinykv exits'"
complete -c tinykv -n "__fish_tinykv_using_subcommand compact" -s q -l quiet -d 'No messages on stderr for keys that are not found'
complete -c tinykv -n "__fish_tinykv_using_subcommand compact" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tinykv -n "__fish_tinykv_using_subcommand check" -s d -l dir -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]' -r -F
complete -c tinykv -n "__fish_tinykv_using_subcommand check" -l wait -d 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand check" -l sync -d 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)' -r -f -a "always\t'Every acknowledged write is fsynced first'
never\t'Writes are left to the OS and fsynced when tinykv exits'"
complete -c tinykv -n "__fish_tinykv_using_subcommand check" -s q -l quiet -d 'No messages on stderr for keys that are not found'
complete -c tinykv -n "__fish_tinykv_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tinykv -n "__fish_tinykv_using_subcommand recover" -s d -l dir -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]' -r -F
complete -c tinykv -n "__fish_tinykv_using_subcommand recover" -l wait -d 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand recover" -l sync -d 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)' -r -f -a "always\t'Every acknowledged write is fsynced first'
never\t'Writes are left to the OS and fsynced when tinykv exits'"
complete -c tinykv -n "__fish_tinykv_using_subcommand recover" -s q -l quiet -d 'No messages on stderr for keys that are not found'
complete -c tinykv -n "__fish_tinykv_using_subcommand recover" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tinykv -n "__fish_tinykv_using_subcommand stats" -s d -l dir -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]' -r -F
complete -c tinykv -n "__fish_tinykv_using_subcommand stats" -l wait -d 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand stats" -l sync -d 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)' -r -f -a "always\t'Every acknowledged write is fsynced first'
never\t'Writes are left to the OS and fsynced when tinykv exits'"
complete -c tinykv -n "__fish_tinykv_using_subcommand stats" -l json -d 'Print one JSON object'
complete -c tinykv -n "__fish_tinykv_using_subcommand stats" -s q -l quiet -d 'No messages on stderr for keys that are not found'
complete -c tinykv -n "__fish_tinykv_using_subcommand stats" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tinykv -n "__fish_tinykv_using_subcommand serve" -l listen -d 'Address to listen on: HOST:PORT, [IPv6]:PORT or a port (port 0: any free one)' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand serve" -l requirepass -d 'Clients must AUTH with this password first (needed to listen beyond loopback)' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand serve" -l max-clients -d 'Most clients connected at once; more are refused with an error' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand serve" -s d -l dir -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]' -r -F
complete -c tinykv -n "__fish_tinykv_using_subcommand serve" -l wait -d 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand serve" -l sync -d 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)' -r -f -a "always\t'Every acknowledged write is fsynced first'
never\t'Writes are left to the OS and fsynced when tinykv exits'"
complete -c tinykv -n "__fish_tinykv_using_subcommand serve" -l insecure -d 'Listen beyond loopback without a password (only on a network you trust)'
complete -c tinykv -n "__fish_tinykv_using_subcommand serve" -s q -l quiet -d 'No messages on stderr for keys that are not found'
complete -c tinykv -n "__fish_tinykv_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tinykv -n "__fish_tinykv_using_subcommand push" -l prefix -d 'Only keys starting with P' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand push" -l glob -d 'Only keys matching PAT, a Redis glob: * any bytes, ? one byte, [abc], [^a], [a-z], \\\\x a literal x' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand push" -l start -d 'Only keys at or after K' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand push" -l end -d 'Only keys before K' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand push" -l limit -d 'At most N keys' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand push" -s d -l dir -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]' -r -F
complete -c tinykv -n "__fish_tinykv_using_subcommand push" -l wait -d 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand push" -l sync -d 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)' -r -f -a "always\t'Every acknowledged write is fsynced first'
never\t'Writes are left to the OS and fsynced when tinykv exits'"
complete -c tinykv -n "__fish_tinykv_using_subcommand push" -s q -l quiet -d 'No messages on stderr for keys that are not found'
complete -c tinykv -n "__fish_tinykv_using_subcommand push" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tinykv -n "__fish_tinykv_using_subcommand generate" -s d -l dir -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]' -r -F
complete -c tinykv -n "__fish_tinykv_using_subcommand generate" -l wait -d 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]' -r
complete -c tinykv -n "__fish_tinykv_using_subcommand generate" -l sync -d 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)' -r -f -a "always\t'Every acknowledged write is fsynced first'
never\t'Writes are left to the OS and fsynced when tinykv exits'"
complete -c tinykv -n "__fish_tinykv_using_subcommand generate" -s q -l quiet -d 'No messages on stderr for keys that are not found'
complete -c tinykv -n "__fish_tinykv_using_subcommand generate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tinykv -n "__fish_tinykv_using_subcommand help; and not __fish_seen_subcommand_from set incr decr expire persist ttl pop rename get del exists count keys dump load backup compact check recover stats serve push generate help" -f -a "set" -d 'Store VALUE under KEY (VALUE omitted or `-`: read it from stdin, byte for byte)'
complete -c tinykv -n "__fish_tinykv_using_subcommand help; and not __fish_seen_subcommand_from set incr decr expire persist ttl pop rename get del exists count keys dump load backup compact check recover stats serve push generate help" -f -a "incr" -d 'Add BY (default 1) to the signed 64-bit integer in KEY (missing: 0) and print the sum, atomically'
complete -c tinykv -n "__fish_tinykv_using_subcommand help; and not __fish_seen_subcommand_from set incr decr expire persist ttl pop rename get del exists count keys dump load backup compact check recover stats serve push generate help" -f -a "decr" -d 'Subtract BY (default 1) from the signed 64-bit integer in KEY (missing: 0) and print the result, atomically'
complete -c tinykv -n "__fish_tinykv_using_subcommand help; and not __fish_seen_subcommand_from set incr decr expire persist ttl pop rename get del exists count keys dump load backup compact check recover stats serve push generate help" -f -a "expire" -d 'Make KEY expire after DURATION (exit 1 if it is not set)'
complete -c tinykv -n "__fish_tinykv_using_subcommand help; and not __fish_seen_subcommand_from set incr decr expire persist ttl pop rename get del exists count keys dump load backup compact check recover stats serve push generate help" -f -a "persist" -d 'Make KEY never expire (exit 1 if it is not set)'
complete -c tinykv -n "__fish_tinykv_using_subcommand help; and not __fish_seen_subcommand_from set incr decr expire persist ttl pop rename get del exists count keys dump load backup compact check recover stats serve push generate help" -f -a "ttl" -d 'Print the seconds KEY has left, or `none` when it does not expire (exit 1 if it is not set)'
complete -c tinykv -n "__fish_tinykv_using_subcommand help; and not __fish_seen_subcommand_from set incr decr expire persist ttl pop rename get del exists count keys dump load backup compact check recover stats serve push generate help" -f -a "pop" -d 'Remove the smallest key (with --prefix, of those starting with P) and print KEY<TAB>VALUE, atomically (exit 1 when there is none)'
complete -c tinykv -n "__fish_tinykv_using_subcommand help; and not __fish_seen_subcommand_from set incr decr expire persist ttl pop rename get del exists count keys dump load backup compact check recover stats serve push generate help" -f -a "rename" -d 'Move the value of OLD (and its expiry) to NEW, atomically (exit 1 if OLD is not set)'
complete -c tinykv -n "__fish_tinykv_using_subcommand help; and not __fish_seen_subcommand_from set incr decr expire persist ttl pop rename get del exists count keys dump load backup compact check recover stats serve push generate help" -f -a "get" -d 'Print the value of each KEY followed by a newline'
complete -c tinykv -n "__fish_tinykv_using_subcommand help; and not __fish_seen_subcommand_from set incr decr expire persist ttl pop rename get del exists count keys dump load backup compact check recover stats serve push generate help" -f -a "del" -d 'Delete each KEY (exit 1 if any was not set)'
complete -c tinykv -n "__fish_tinykv_using_subcommand help; and not __fish_seen_subcommand_from set incr decr expire persist ttl pop rename get del exists count keys dump load backup compact check recover stats serve push generate help" -f -a "exists" -d 'Exit 0 when every KEY is set, else 1 (prints nothing)'
complete -c tinykv -n "__fish_tinykv_using_subcommand help; and not __fish_seen_subcommand_from set incr decr expire persist ttl pop rename get del exists count keys dump load backup compact check recover stats serve push generate help" -f -a "count" -d 'Print the number of keys (with --prefix, of those starting with P)'
complete -c tinykv -n "__fish_tinykv_using_subcommand help; and not __fish_seen_subcommand_from set incr decr expire persist ttl pop rename get del exists count keys dump load backup compact check recover stats serve push generate help" -f -a "keys" -d 'List keys, sorted, one a line (escaped as in the tsv dump format)'
complete -c tinykv -n "__fish_tinykv_using_subcommand help; and not __fish_seen_subcommand_from set incr decr expire persist ttl pop rename get del exists count keys dump load backup compact check recover stats serve push generate help" -f -a "dump" -d 'Write every live pair, sorted by key, to stdout'
complete -c tinykv -n "__fish_tinykv_using_subcommand help; and not __fish_seen_subcommand_from set incr decr expire persist ttl pop rename get del exists count keys dump load backup compact check recover stats serve push generate help" -f -a "load" -d 'Store every pair of a dump atomically: all of it, or none of it if any line is bad'
complete -c tinykv -n "__fish_tinykv_using_subcommand help; and not __fish_seen_subcommand_from set incr decr expire persist ttl pop rename get del exists count keys dump load backup compact check recover stats serve push generate help" -f -a "backup" -d 'Copy the database, as it is at one moment, into DEST (a new or empty directory), even while it is in use'
complete -c tinykv -n "__fish_tinykv_using_subcommand help; and not __fish_seen_subcommand_from set incr decr expire persist ttl pop rename get del exists count keys dump load backup compact check recover stats serve push generate help" -f -a "compact" -d 'Rewrite the live data now, unless that cannot make the files smaller (it says why); print the bytes before and after and the time taken'
complete -c tinykv -n "__fish_tinykv_using_subcommand help; and not __fish_seen_subcommand_from set incr decr expire persist ttl pop rename get del exists count keys dump load backup compact check recover stats serve push generate help" -f -a "check" -d 'Verify every record\'s CRC and every file\'s structure, read-only (exit 1 when damaged)'
complete -c tinykv -n "__fish_tinykv_using_subcommand help; and not __fish_seen_subcommand_from set incr decr expire persist ttl pop rename get del exists count keys dump load backup compact check recover stats serve push generate help" -f -a "recover" -d 'Salvage every intact record, cut torn tails, rebuild indexes; unusable bytes go to DIR/lost+found/'
complete -c tinykv -n "__fish_tinykv_using_subcommand help; and not __fish_seen_subcommand_from set incr decr expire persist ttl pop rename get del exists count keys dump load backup compact check recover stats serve push generate help" -f -a "stats" -d 'Print keys, live and dead bytes, files and the last compaction'
complete -c tinykv -n "__fish_tinykv_using_subcommand help; and not __fish_seen_subcommand_from set incr decr expire persist ttl pop rename get del exists count keys dump load backup compact check recover stats serve push generate help" -f -a "serve" -d 'Serve the database over the Redis protocol to many clients at once (until SIGINT or SIGTERM)'
complete -c tinykv -n "__fish_tinykv_using_subcommand help; and not __fish_seen_subcommand_from set incr decr expire persist ttl pop rename get del exists count keys dump load backup compact check recover stats serve push generate help" -f -a "push" -d 'Copy every live pair, with its expiry, into a running Redis or Valkey, a Redis Cluster included'
complete -c tinykv -n "__fish_tinykv_using_subcommand help; and not __fish_seen_subcommand_from set incr decr expire persist ttl pop rename get del exists count keys dump load backup compact check recover stats serve push generate help" -f -a "generate" -d 'Print the man page or a shell completion script'
complete -c tinykv -n "__fish_tinykv_using_subcommand help; and not __fish_seen_subcommand_from set incr decr expire persist ttl pop rename get del exists count keys dump load backup compact check recover stats serve push generate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
