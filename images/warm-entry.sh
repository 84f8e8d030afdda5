#!/bin/sh
# ironworks-warm: the entrypoint of a prestarted ("warm") task container.
#
# It waits on stdin for its one task. The runner writes shell assignments, all quoted: the
# task's TASK_ID (exported), the code's command line and IronWorker's arguments; then it
# closes stdin. This script then becomes the task exactly as a cold start runs it: the same
# `/bin/sh -c "<command> \"$@\""` as PID 1, the same environment, arguments, user and limits.
# Closing stdin without writing anything retires the container.
task=$(cat)
[ -n "$task" ] || exit 0
eval "$task"
unset task SHLVL  # the next shell counts its level from 1, as a cold start's does
exec /bin/sh -c "$command" sh "$@"
