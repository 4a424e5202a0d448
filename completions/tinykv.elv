
use builtin;
use str;

set edit:completion:arg-completer[tinykv] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'tinykv'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'tinykv'= {
            cand -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --dir 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --wait 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]'
            cand --sync 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)'
            cand -f 'Run FILE as a script: one command a line, as in the REPL'
            cand --file 'Run FILE as a script: one command a line, as in the REPL'
            cand -q 'No messages on stderr for keys that are not found'
            cand --quiet 'No messages on stderr for keys that are not found'
            cand --bail 'In a script, stop at the first line that fails'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand set 'Store VALUE under KEY (VALUE omitted or `-`: read it from stdin, byte for byte)'
            cand incr 'Add BY (default 1) to the signed 64-bit integer in KEY (missing: 0) and print the sum, atomically'
            cand decr 'Subtract BY (default 1) from the signed 64-bit integer in KEY (missing: 0) and print the result, atomically'
            cand expire 'Make KEY expire after DURATION (exit 1 if it is not set)'
            cand persist 'Make KEY never expire (exit 1 if it is not set)'
            cand ttl 'Print the seconds KEY has left, or `none` when it does not expire (exit 1 if it is not set)'
            cand pop 'Remove the smallest key (with --prefix, of those starting with P) and print KEY<TAB>VALUE, atomically (exit 1 when there is none)'
            cand rename 'Move the value of OLD (and its expiry) to NEW, atomically (exit 1 if OLD is not set)'
            cand get 'Print the value of each KEY followed by a newline'
            cand del 'Delete each KEY (exit 1 if any was not set)'
            cand exists 'Exit 0 when every KEY is set, else 1 (prints nothing)'
            cand count 'Print the number of keys (with --prefix, of those starting with P)'
            cand keys 'List keys, sorted, one a line (escaped as in the tsv dump format)'
            cand dump 'Write every live pair, sorted by key, to stdout'
            cand load 'Store every pair of a dump atomically: all of it, or none of it if any line is bad'
            cand backup 'Copy the database, as it is at one moment, into DEST (a new or empty directory), even while it is in use'
            cand compact 'Rewrite the live data now, unless that cannot make the files smaller (it says why); print the bytes before and after and the time taken'
            cand check 'Verify every record''s CRC and every file''s structure, read-only (exit 1 when damaged)'
            cand recover 'Salvage every intact record, cut torn tails, rebuild indexes; unusable bytes go to DIR/lost+found/'
            cand stats 'Print keys, live and dead bytes, files and the last compaction'
            cand serve 'Serve the database over the Redis protocol to many clients at once (until SIGINT or SIGTERM)'
            cand push 'Copy every live pair, with its expiry, into a running Redis or Valkey, a Redis Cluster included'
            cand generate 'Print the man page or a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'tinykv;set'= {
            cand --value 'The value, taken as it is: `--value -` stores the one byte `-`'
            cand --if-eq 'Only if KEY holds exactly OLD (compare-and-set)'
            cand --ttl 'The key expires after DURATION: seconds, or a number with s, m, h or d (90, 30s, 10m, 2h, 7d)'
            cand --expire-at 'The key expires at this Unix time, in seconds'
            cand -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --dir 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --wait 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]'
            cand --sync 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)'
            cand --nx 'Only if KEY is not set'
            cand --xx 'Only if KEY is set'
            cand -q 'No messages on stderr for keys that are not found'
            cand --quiet 'No messages on stderr for keys that are not found'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tinykv;incr'= {
            cand --by 'The step, as an option'
            cand -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --dir 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --wait 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]'
            cand --sync 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)'
            cand -q 'No messages on stderr for keys that are not found'
            cand --quiet 'No messages on stderr for keys that are not found'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tinykv;decr'= {
            cand --by 'The step, as an option'
            cand -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --dir 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --wait 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]'
            cand --sync 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)'
            cand -q 'No messages on stderr for keys that are not found'
            cand --quiet 'No messages on stderr for keys that are not found'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tinykv;expire'= {
            cand -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --dir 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --wait 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]'
            cand --sync 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)'
            cand -q 'No messages on stderr for keys that are not found'
            cand --quiet 'No messages on stderr for keys that are not found'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tinykv;persist'= {
            cand -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --dir 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --wait 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]'
            cand --sync 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)'
            cand -q 'No messages on stderr for keys that are not found'
            cand --quiet 'No messages on stderr for keys that are not found'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tinykv;ttl'= {
            cand -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --dir 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --wait 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]'
            cand --sync 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)'
            cand -q 'No messages on stderr for keys that are not found'
            cand --quiet 'No messages on stderr for keys that are not found'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tinykv;pop'= {
            cand --prefix 'Only keys starting with P'
            cand -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --dir 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --wait 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]'
            cand --sync 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)'
            cand -q 'No messages on stderr for keys that are not found'
            cand --quiet 'No messages on stderr for keys that are not found'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tinykv;rename'= {
            cand -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --dir 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --wait 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]'
            cand --sync 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)'
            cand --nx 'Only if NEW is not set (exit 1 otherwise)'
            cand -q 'No messages on stderr for keys that are not found'
            cand --quiet 'No messages on stderr for keys that are not found'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tinykv;get'= {
            cand -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --dir 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --wait 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]'
            cand --sync 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)'
            cand --raw 'Print the exact bytes of the value, with no newline added (one KEY only)'
            cand -q 'No messages on stderr for keys that are not found'
            cand --quiet 'No messages on stderr for keys that are not found'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tinykv;del'= {
            cand -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --dir 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --wait 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]'
            cand --sync 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)'
            cand -q 'No messages on stderr for keys that are not found'
            cand --quiet 'No messages on stderr for keys that are not found'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tinykv;exists'= {
            cand -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --dir 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --wait 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]'
            cand --sync 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)'
            cand -q 'No messages on stderr for keys that are not found'
            cand --quiet 'No messages on stderr for keys that are not found'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tinykv;count'= {
            cand --prefix 'Only keys starting with P'
            cand -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --dir 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --wait 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]'
            cand --sync 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)'
            cand -q 'No messages on stderr for keys that are not found'
            cand --quiet 'No messages on stderr for keys that are not found'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tinykv;keys'= {
            cand --prefix 'Only keys starting with P'
            cand --glob 'Only keys matching PAT, a Redis glob: * any bytes, ? one byte, [abc], [^a], [a-z], \\x a literal x'
            cand --start 'Only keys at or after K'
            cand --end 'Only keys before K'
            cand --limit 'At most N keys'
            cand -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --dir 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --wait 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]'
            cand --sync 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)'
            cand -0 'Write the raw bytes of each key followed by a NUL byte (for xargs -0)'
            cand --null 'Write the raw bytes of each key followed by a NUL byte (for xargs -0)'
            cand -q 'No messages on stderr for keys that are not found'
            cand --quiet 'No messages on stderr for keys that are not found'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tinykv;dump'= {
            cand --format 'The dump format: tsv, jsonl, resp (Redis SET commands) or rdb (a Redis RDB file)'
            cand --prefix 'Only keys starting with P'
            cand --glob 'Only keys matching PAT, a Redis glob: * any bytes, ? one byte, [abc], [^a], [a-z], \\x a literal x'
            cand --start 'Only keys at or after K'
            cand --end 'Only keys before K'
            cand --limit 'At most N keys'
            cand -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --dir 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --wait 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]'
            cand --sync 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)'
            cand -q 'No messages on stderr for keys that are not found'
            cand --quiet 'No messages on stderr for keys that are not found'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tinykv;load'= {
            cand --format 'The dump format [default: from FILE''s extension (.tsv, .jsonl, .resp, .rdb), else tsv]'
            cand -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --dir 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --wait 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]'
            cand --sync 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)'
            cand --replace 'Make the database hold exactly the dump''s pairs: every other key is deleted, in the same atomic step'
            cand -q 'No messages on stderr for keys that are not found'
            cand --quiet 'No messages on stderr for keys that are not found'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tinykv;backup'= {
            cand -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --dir 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --wait 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]'
            cand --sync 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)'
            cand -q 'No messages on stderr for keys that are not found'
            cand --quiet 'No messages on stderr for keys that are not found'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tinykv;compact'= {
            cand -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --dir 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --wait 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]'
            cand --sync 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)'
            cand -q 'No messages on stderr for keys that are not found'
            cand --quiet 'No messages on stderr for keys that are not found'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tinykv;check'= {
            cand -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --dir 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --wait 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]'
            cand --sync 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)'
            cand -q 'No messages on stderr for keys that are not found'
            cand --quiet 'No messages on stderr for keys that are not found'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tinykv;recover'= {
            cand -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --dir 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --wait 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]'
            cand --sync 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)'
            cand -q 'No messages on stderr for keys that are not found'
            cand --quiet 'No messages on stderr for keys that are not found'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tinykv;stats'= {
            cand -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --dir 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --wait 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]'
            cand --sync 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)'
            cand --json 'Print one JSON object'
            cand -q 'No messages on stderr for keys that are not found'
            cand --quiet 'No messages on stderr for keys that are not found'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tinykv;serve'= {
            cand --listen 'Address to listen on: HOST:PORT, [IPv6]:PORT or a port (port 0: any free one)'
            cand --requirepass 'Clients must AUTH with this password first (needed to listen beyond loopback)'
            cand --max-clients 'Most clients connected at once; more are refused with an error'
            cand -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --dir 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --wait 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]'
            cand --sync 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)'
            cand --insecure 'Listen beyond loopback without a password (only on a network you trust)'
            cand -q 'No messages on stderr for keys that are not found'
            cand --quiet 'No messages on stderr for keys that are not found'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tinykv;push'= {
            cand --prefix 'Only keys starting with P'
            cand --glob 'Only keys matching PAT, a Redis glob: * any bytes, ? one byte, [abc], [^a], [a-z], \\x a literal x'
            cand --start 'Only keys at or after K'
            cand --end 'Only keys before K'
            cand --limit 'At most N keys'
            cand -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --dir 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --wait 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]'
            cand --sync 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)'
            cand -q 'No messages on stderr for keys that are not found'
            cand --quiet 'No messages on stderr for keys that are not found'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tinykv;generate'= {
            cand -d 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --dir 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]'
            cand --wait 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]'
            cand --sync 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)'
            cand -q 'No messages on stderr for keys that are not found'
            cand --quiet 'No messages on stderr for keys that are not found'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tinykv;help'= {
            cand set 'Store VALUE under KEY (VALUE omitted or `-`: read it from stdin, byte for byte)'
            cand incr 'Add BY (default 1) to the signed 64-bit integer in KEY (missing: 0) and print the sum, atomically'
            cand decr 'Subtract BY (default 1) from the signed 64-bit integer in KEY (missing: 0) and print the result, atomically'
            cand expire 'Make KEY expire after DURATION (exit 1 if it is not set)'
            cand persist 'Make KEY never expire (exit 1 if it is not set)'
            cand ttl 'Print the seconds KEY has left, or `none` when it does not expire (exit 1 if it is not set)'
            cand pop 'Remove the smallest key (with --prefix, of those starting with P) and print KEY<TAB>VALUE, atomically (exit 1 when there is none)'
            cand rename 'Move the value of OLD (and its expiry) to NEW, atomically (exit 1 if OLD is not set)'
            cand get 'Print the value of each KEY followed by a newline'
            cand del 'Delete each KEY (exit 1 if any was not set)'
            cand exists 'Exit 0 when every KEY is set, else 1 (prints nothing)'
            cand count 'Print the number of keys (with --prefix, of those starting with P)'
            cand keys 'List keys, sorted, one a line (escaped as in the tsv dump format)'
            cand dump 'Write every live pair, sorted by key, to stdout'
            cand load 'Store every pair of a dump atomically: all of it, or none of it if any line is bad'
            cand backup 'Copy the database, as it is at one moment, into DEST (a new or empty directory), even while it is in use'
            cand compact 'Rewrite the live data now, unless that cannot make the files smaller (it says why); print the bytes before and after and the time taken'
            cand check 'Verify every record''s CRC and every file''s structure, read-only (exit 1 when damaged)'
            cand recover 'Salvage every intact record, cut torn tails, rebuild indexes; unusable bytes go to DIR/lost+found/'
            cand stats 'Print keys, live and dead bytes, files and the last compaction'
            cand serve 'Serve the database over the Redis protocol to many clients at once (until SIGINT or SIGTERM)'
            cand push 'Copy every live pair, with its expiry, into a running Redis or Valkey, a Redis Cluster included'
            cand generate 'Print the man page or a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'tinykv;help;set'= {
        }
        &'tinykv;help;incr'= {
        }
        &'tinykv;help;decr'= {
        }
        &'tinykv;help;expire'= {
        }
        &'tinykv;help;persist'= {
        }
        &'tinykv;help;ttl'= {
        }
        &'tinykv;help;pop'= {
        }
        &'tinykv;help;rename'= {
        }
        &'tinykv;help;get'= {
        }
        &'tinykv;help;del'= {
        }
        &'tinykv;help;exists'= {
        }
        &'tinykv;help;count'= {
        }
        &'tinykv;help;keys'= {
        }
        &'tinykv;help;dump'= {
        }
        &'tinykv;help;load'= {
        }
        &'tinykv;help;backup'= {
        }
        &'tinykv;help;compact'= {
        }
        &'tinykv;help;check'= {
        }
        &'tinykv;help;recover'= {
        }
        &'tinykv;help;stats'= {
        }
        &'tinykv;help;serve'= {
        }
        &'tinykv;help;push'= {
        }
        &'tinykv;help;generate'= {
        }
        &'tinykv;help;help'= {
        }
    ]
    $completions[$command]
}
