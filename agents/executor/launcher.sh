# The agent's task launcher (see launcher.ts for the protocol). POSIX sh; dash on Debian.
#   stdin:  "T <n> <assignments>; set -- <argv>; start \"$@\""   start task n
#           "R <n> <n> ..."                                      reap the waiters of ended tasks
#   stdout: "S <n> <pid>"  started (pid = process group id)
#           "E <n> <status>"  ended with this shell status
#           "F <n> <reason>"  could not start
# A waiter subshell per task starts the command in a new session and waits for it. dash reaps
# background children only when asked, so the agent asks ("R") once it has read a task's "E":
# without that every ended waiter would stay a zombie of this shell.
# This shell and its waiters ignore SIGPIPE: with the agent gone they must still record each
# task's exit. An ignored signal stays ignored across exec and a shell cannot undo it, so the task
# is started through a program that restores the default (`yes | head -1` must end quietly):
# GNU env's --default-signal, else perl.
trap '' PIPE
if env --default-signal=PIPE true 2>/dev/null; then
  spw_sigpipe='env --default-signal=PIPE'
elif perl -e 1 2>/dev/null; then
  spw_sigpipe='perl -e $SIG{PIPE}="DEFAULT";exec(@ARGV)||exit(127)'
else
  spw_sigpipe=''
fi
nl='
'
start() {
  cd "$spw_dir" 2>/dev/null || { echo "F $spw_id cannot enter the sandbox $spw_dir"; return; }
  # $spw_sigpipe unquoted on purpose: it is a command and its arguments, or nothing.
  setsid $spw_sigpipe "$@" </dev/null >stdout 2>stderr &
  spw_pid=$!
  echo "S $spw_id $spw_pid"
  echo "$spw_pid" >.pid
  wait "$spw_pid"
  spw_rc=$?
  echo "$spw_rc" >.exit_status
  echo "E $spw_id $spw_rc"
}
while IFS= read -r spw_line; do
  case $spw_line in
    'T '*)
      spw_rest=${spw_line#T }
      spw_n=${spw_rest%% *}
      ( spw_id=$spw_n; eval "${spw_rest#* }" ) &
      eval "spw_w_$spw_n=\$!" ;;
    'R '*)
      for spw_n in ${spw_line#R }; do
        eval "spw_w=\${spw_w_$spw_n:-}; unset spw_w_$spw_n"
        [ -n "$spw_w" ] && wait "$spw_w" 2>/dev/null
      done ;;
  esac
done
