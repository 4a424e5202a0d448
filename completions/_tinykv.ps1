
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'tinykv' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'tinykv'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'tinykv' {
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]')
            [CompletionResult]::new('--sync', '--sync', [CompletionResultType]::ParameterName, 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Run FILE as a script: one command a line, as in the REPL')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Run FILE as a script: one command a line, as in the REPL')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('--bail', '--bail', [CompletionResultType]::ParameterName, 'In a script, stop at the first line that fails')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Store VALUE under KEY (VALUE omitted or `-`: read it from stdin, byte for byte)')
            [CompletionResult]::new('incr', 'incr', [CompletionResultType]::ParameterValue, 'Add BY (default 1) to the signed 64-bit integer in KEY (missing: 0) and print the sum, atomically')
            [CompletionResult]::new('decr', 'decr', [CompletionResultType]::ParameterValue, 'Subtract BY (default 1) from the signed 64-bit integer in KEY (missing: 0) and print the result, atomically')
            [CompletionResult]::new('expire', 'expire', [CompletionResultType]::ParameterValue, 'Make KEY expire after DURATION (exit 1 if it is not set)')
            [CompletionResult]::new('persist', 'persist', [CompletionResultType]::ParameterValue, 'Make KEY never expire (exit 1 if it is not set)')
            [CompletionResult]::new('ttl', 'ttl', [CompletionResultType]::ParameterValue, 'Print the seconds KEY has left, or `none` when it does not expire (exit 1 if it is not set)')
            [CompletionResult]::new('pop', 'pop', [CompletionResultType]::ParameterValue, 'Remove the smallest key (with --prefix, of those starting with P) and print KEY<TAB>VALUE, atomically (exit 1 when there is none)')
            [CompletionResult]::new('rename', 'rename', [CompletionResultType]::ParameterValue, 'Move the value of OLD (and its expiry) to NEW, atomically (exit 1 if OLD is not set)')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Print the value of each KEY followed by a newline')
            [CompletionResult]::new('del', 'del', [CompletionResultType]::ParameterValue, 'Delete each KEY (exit 1 if any was not set)')
            [CompletionResult]::new('exists', 'exists', [CompletionResultType]::ParameterValue, 'Exit 0 when every KEY is set, else 1 (prints nothing)')
            [CompletionResult]::new('count', 'count', [CompletionResultType]::ParameterValue, 'Print the number of keys (with --prefix, of those starting with P)')
            [CompletionResult]::new('keys', 'keys', [CompletionResultType]::ParameterValue, 'List keys, sorted, one a line (escaped as in the tsv dump format)')
            [CompletionResult]::new('dump', 'dump', [CompletionResultType]::ParameterValue, 'Write every live pair, sorted by key, to stdout')
            [CompletionResult]::new('load', 'load', [CompletionResultType]::ParameterValue, 'Store every pair of a dump atomically: all of it, or none of it if any line is bad')
            [CompletionResult]::new('backup', 'backup', [CompletionResultType]::ParameterValue, 'Copy the database, as it is at one moment, into DEST (a new or empty directory), even while it is in use')
            [CompletionResult]::new('compact', 'compact', [CompletionResultType]::ParameterValue, 'Rewrite the live data now, unless that cannot make the files smaller (it says why); print the bytes before and after and the time taken')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Verify every record''s CRC and every file''s structure, read-only (exit 1 when damaged)')
            [CompletionResult]::new('recover', 'recover', [CompletionResultType]::ParameterValue, 'Salvage every intact record, cut torn tails, rebuild indexes; unusable bytes go to DIR/lost+found/')
            [CompletionResult]::new('stats', 'stats', [CompletionResultType]::ParameterValue, 'Print keys, live and dead bytes, files and the last compaction')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Serve the database over the Redis protocol to many clients at once (until SIGINT or SIGTERM)')
            [CompletionResult]::new('push', 'push', [CompletionResultType]::ParameterValue, 'Copy every live pair, with its expiry, into a running Redis or Valkey, a Redis Cluster included')
            [CompletionResult]::new('generate', 'generate', [CompletionResultType]::ParameterValue, 'Print the man page or a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'tinykv;set' {
            [CompletionResult]::new('--value', '--value', [CompletionResultType]::ParameterName, 'The value, taken as it is: `--value -` stores the one byte `-`')
            [CompletionResult]::new('--if-eq', '--if-eq', [CompletionResultType]::ParameterName, 'Only if KEY holds exactly OLD (compare-and-set)')
            [CompletionResult]::new('--ttl', '--ttl', [CompletionResultType]::ParameterName, 'The key expires after DURATION: seconds, or a number with s, m, h or d (90, 30s, 10m, 2h, 7d)')
            [CompletionResult]::new('--expire-at', '--expire-at', [CompletionResultType]::ParameterName, 'The key expires at this Unix time, in seconds')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]')
            [CompletionResult]::new('--sync', '--sync', [CompletionResultType]::ParameterName, 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)')
            [CompletionResult]::new('--nx', '--nx', [CompletionResultType]::ParameterName, 'Only if KEY is not set')
            [CompletionResult]::new('--xx', '--xx', [CompletionResultType]::ParameterName, 'Only if KEY is set')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tinykv;incr' {
            [CompletionResult]::new('--by', '--by', [CompletionResultType]::ParameterName, 'The step, as an option')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]')
            [CompletionResult]::new('--sync', '--sync', [CompletionResultType]::ParameterName, 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tinykv;decr' {
            [CompletionResult]::new('--by', '--by', [CompletionResultType]::ParameterName, 'The step, as an option')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]')
            [CompletionResult]::new('--sync', '--sync', [CompletionResultType]::ParameterName, 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tinykv;expire' {
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]')
            [CompletionResult]::new('--sync', '--sync', [CompletionResultType]::ParameterName, 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tinykv;persist' {
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]')
            [CompletionResult]::new('--sync', '--sync', [CompletionResultType]::ParameterName, 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tinykv;ttl' {
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]')
            [CompletionResult]::new('--sync', '--sync', [CompletionResultType]::ParameterName, 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tinykv;pop' {
            [CompletionResult]::new('--prefix', '--prefix', [CompletionResultType]::ParameterName, 'Only keys starting with P')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]')
            [CompletionResult]::new('--sync', '--sync', [CompletionResultType]::ParameterName, 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tinykv;rename' {
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]')
            [CompletionResult]::new('--sync', '--sync', [CompletionResultType]::ParameterName, 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)')
            [CompletionResult]::new('--nx', '--nx', [CompletionResultType]::ParameterName, 'Only if NEW is not set (exit 1 otherwise)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tinykv;get' {
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]')
            [CompletionResult]::new('--sync', '--sync', [CompletionResultType]::ParameterName, 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)')
            [CompletionResult]::new('--raw', '--raw', [CompletionResultType]::ParameterName, 'Print the exact bytes of the value, with no newline added (one KEY only)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tinykv;del' {
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]')
            [CompletionResult]::new('--sync', '--sync', [CompletionResultType]::ParameterName, 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tinykv;exists' {
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]')
            [CompletionResult]::new('--sync', '--sync', [CompletionResultType]::ParameterName, 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tinykv;count' {
            [CompletionResult]::new('--prefix', '--prefix', [CompletionResultType]::ParameterName, 'Only keys starting with P')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]')
            [CompletionResult]::new('--sync', '--sync', [CompletionResultType]::ParameterName, 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tinykv;keys' {
            [CompletionResult]::new('--prefix', '--prefix', [CompletionResultType]::ParameterName, 'Only keys starting with P')
            [CompletionResult]::new('--glob', '--glob', [CompletionResultType]::ParameterName, 'Only keys matching PAT, a Redis glob: * any bytes, ? one byte, [abc], [^a], [a-z], \\x a literal x')
            [CompletionResult]::new('--start', '--start', [CompletionResultType]::ParameterName, 'Only keys at or after K')
            [CompletionResult]::new('--end', '--end', [CompletionResultType]::ParameterName, 'Only keys before K')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'At most N keys')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]')
            [CompletionResult]::new('--sync', '--sync', [CompletionResultType]::ParameterName, 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)')
            [CompletionResult]::new('-0', '-0', [CompletionResultType]::ParameterName, 'Write the raw bytes of each key followed by a NUL byte (for xargs -0)')
            [CompletionResult]::new('--null', '--null', [CompletionResultType]::ParameterName, 'Write the raw bytes of each key followed by a NUL byte (for xargs -0)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tinykv;dump' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'The dump format: tsv, jsonl, resp (Redis SET commands) or rdb (a Redis RDB file)')
            [CompletionResult]::new('--prefix', '--prefix', [CompletionResultType]::ParameterName, 'Only keys starting with P')
            [CompletionResult]::new('--glob', '--glob', [CompletionResultType]::ParameterName, 'Only keys matching PAT, a Redis glob: * any bytes, ? one byte, [abc], [^a], [a-z], \\x a literal x')
            [CompletionResult]::new('--start', '--start', [CompletionResultType]::ParameterName, 'Only keys at or after K')
            [CompletionResult]::new('--end', '--end', [CompletionResultType]::ParameterName, 'Only keys before K')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'At most N keys')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]')
            [CompletionResult]::new('--sync', '--sync', [CompletionResultType]::ParameterName, 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tinykv;load' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'The dump format [default: from FILE''s extension (.tsv, .jsonl, .resp, .rdb), else tsv]')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]')
            [CompletionResult]::new('--sync', '--sync', [CompletionResultType]::ParameterName, 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)')
            [CompletionResult]::new('--replace', '--replace', [CompletionResultType]::ParameterName, 'Make the database hold exactly the dump''s pairs: every other key is deleted, in the same atomic step')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tinykv;backup' {
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]')
            [CompletionResult]::new('--sync', '--sync', [CompletionResultType]::ParameterName, 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tinykv;compact' {
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]')
            [CompletionResult]::new('--sync', '--sync', [CompletionResultType]::ParameterName, 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tinykv;check' {
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]')
            [CompletionResult]::new('--sync', '--sync', [CompletionResultType]::ParameterName, 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tinykv;recover' {
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]')
            [CompletionResult]::new('--sync', '--sync', [CompletionResultType]::ParameterName, 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tinykv;stats' {
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]')
            [CompletionResult]::new('--sync', '--sync', [CompletionResultType]::ParameterName, 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tinykv;serve' {
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address to listen on: HOST:PORT, [IPv6]:PORT or a port (port 0: any free one)')
            [CompletionResult]::new('--requirepass', '--requirepass', [CompletionResultType]::ParameterName, 'Clients must AUTH with this password first (needed to listen beyond loopback)')
            [CompletionResult]::new('--max-clients', '--max-clients', [CompletionResultType]::ParameterName, 'Most clients connected at once; more are refused with an error')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]')
            [CompletionResult]::new('--sync', '--sync', [CompletionResultType]::ParameterName, 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Listen beyond loopback without a password (only on a network you trust)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tinykv;push' {
            [CompletionResult]::new('--prefix', '--prefix', [CompletionResultType]::ParameterName, 'Only keys starting with P')
            [CompletionResult]::new('--glob', '--glob', [CompletionResultType]::ParameterName, 'Only keys matching PAT, a Redis glob: * any bytes, ? one byte, [abc], [^a], [a-z], \\x a literal x')
            [CompletionResult]::new('--start', '--start', [CompletionResultType]::ParameterName, 'Only keys at or after K')
            [CompletionResult]::new('--end', '--end', [CompletionResultType]::ParameterName, 'Only keys before K')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'At most N keys')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]')
            [CompletionResult]::new('--sync', '--sync', [CompletionResultType]::ParameterName, 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tinykv;generate' {
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]')
            [CompletionResult]::new('--sync', '--sync', [CompletionResultType]::ParameterName, 'When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No messages on stderr for keys that are not found')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tinykv;help' {
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Store VALUE under KEY (VALUE omitted or `-`: read it from stdin, byte for byte)')
            [CompletionResult]::new('incr', 'incr', [CompletionResultType]::ParameterValue, 'Add BY (default 1) to the signed 64-bit integer in KEY (missing: 0) and print the sum, atomically')
            [CompletionResult]::new('decr', 'decr', [CompletionResultType]::ParameterValue, 'Subtract BY (default 1) from the signed 64-bit integer in KEY (missing: 0) and print the result, atomically')
            [CompletionResult]::new('expire', 'expire', [CompletionResultType]::ParameterValue, 'Make KEY expire after DURATION (exit 1 if it is not set)')
            [CompletionResult]::new('persist', 'persist', [CompletionResultType]::ParameterValue, 'Make KEY never expire (exit 1 if it is not set)')
            [CompletionResult]::new('ttl', 'ttl', [CompletionResultType]::ParameterValue, 'Print the seconds KEY has left, or `none` when it does not expire (exit 1 if it is not set)')
            [CompletionResult]::new('pop', 'pop', [CompletionResultType]::ParameterValue, 'Remove the smallest key (with --prefix, of those starting with P) and print KEY<TAB>VALUE, atomically (exit 1 when there is none)')
            [CompletionResult]::new('rename', 'rename', [CompletionResultType]::ParameterValue, 'Move the value of OLD (and its expiry) to NEW, atomically (exit 1 if OLD is not set)')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Print the value of each KEY followed by a newline')
            [CompletionResult]::new('del', 'del', [CompletionResultType]::ParameterValue, 'Delete each KEY (exit 1 if any was not set)')
            [CompletionResult]::new('exists', 'exists', [CompletionResultType]::ParameterValue, 'Exit 0 when every KEY is set, else 1 (prints nothing)')
            [CompletionResult]::new('count', 'count', [CompletionResultType]::ParameterValue, 'Print the number of keys (with --prefix, of those starting with P)')
            [CompletionResult]::new('keys', 'keys', [CompletionResultType]::ParameterValue, 'List keys, sorted, one a line (escaped as in the tsv dump format)')
            [CompletionResult]::new('dump', 'dump', [CompletionResultType]::ParameterValue, 'Write every live pair, sorted by key, to stdout')
            [CompletionResult]::new('load', 'load', [CompletionResultType]::ParameterValue, 'Store every pair of a dump atomically: all of it, or none of it if any line is bad')
            [CompletionResult]::new('backup', 'backup', [CompletionResultType]::ParameterValue, 'Copy the database, as it is at one moment, into DEST (a new or empty directory), even while it is in use')
            [CompletionResult]::new('compact', 'compact', [CompletionResultType]::ParameterValue, 'Rewrite the live data now, unless that cannot make the files smaller (it says why); print the bytes before and after and the time taken')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Verify every record''s CRC and every file''s structure, read-only (exit 1 when damaged)')
            [CompletionResult]::new('recover', 'recover', [CompletionResultType]::ParameterValue, 'Salvage every intact record, cut torn tails, rebuild indexes; unusable bytes go to DIR/lost+found/')
            [CompletionResult]::new('stats', 'stats', [CompletionResultType]::ParameterValue, 'Print keys, live and dead bytes, files and the last compaction')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Serve the database over the Redis protocol to many clients at once (until SIGINT or SIGTERM)')
            [CompletionResult]::new('push', 'push', [CompletionResultType]::ParameterValue, 'Copy every live pair, with its expiry, into a running Redis or Valkey, a Redis Cluster included')
            [CompletionResult]::new('generate', 'generate', [CompletionResultType]::ParameterValue, 'Print the man page or a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'tinykv;help;set' {
            break
        }
        'tinykv;help;incr' {
            break
        }
        'tinykv;help;decr' {
            break
        }
        'tinykv;help;expire' {
            break
        }
        'tinykv;help;persist' {
            break
        }
        'tinykv;help;ttl' {
            break
        }
        'tinykv;help;pop' {
            break
        }
        'tinykv;help;rename' {
            break
        }
        'tinykv;help;get' {
            break
        }
        'tinykv;help;del' {
            break
        }
        'tinykv;help;exists' {
            break
        }
        'tinykv;help;count' {
            break
        }
        'tinykv;help;keys' {
            break
        }
        'tinykv;help;dump' {
            break
        }
        'tinykv;help;load' {
            break
        }
        'tinykv;help;backup' {
            break
        }
        'tinykv;help;compact' {
            break
        }
        'tinykv;help;check' {
            break
        }
        'tinykv;help;recover' {
            break
        }
        'tinykv;help;stats' {
            break
        }
        'tinykv;help;serve' {
            break
        }
        'tinykv;help;push' {
            break
        }
        'tinykv;help;generate' {
            break
        }
        'tinykv;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
