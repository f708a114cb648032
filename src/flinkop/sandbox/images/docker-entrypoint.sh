#!/usr/bin/env bash
# /docker-entrypoint.sh of the flinkop sandbox's flink images: our own shim that behaves like the official
# Flink image's entrypoint, for Flink 1.x and 2.x.
#
#   docker-entrypoint.sh jobmanager [args]       jobmanager.sh start-foreground [args]
#   docker-entrypoint.sh taskmanager [args]      taskmanager.sh start-foreground [args]
#   docker-entrypoint.sh standalone-job [args]   standalone-job.sh start-foreground [args]
#   docker-entrypoint.sh history-server [args]   historyserver.sh start-foreground [args]
#   docker-entrypoint.sh sql-gateway [args]      sql-gateway.sh start-foreground [args]
#   docker-entrypoint.sh help                    this text
#   docker-entrypoint.sh <command> [args]        runs the command as given (pass-through), e.g.
#                                                bash -c 'kubernetes-taskmanager.sh ...' (found on PATH)
#
# Environment read in every mode:
#   FLINK_PROPERTIES     "key: value" lines merged into the Flink config file: config.yaml (Flink 2.x, and
#                        1.x without a flink-conf.yaml), else the legacy flink-conf.yaml (1.x).
#   JOB_MANAGER_RPC_ADDRESS, TASK_MANAGER_NUMBER_OF_TASK_SLOTS   set jobmanager.rpc.address /
#                        taskmanager.numberOfTaskSlots when given.
#   ENABLE_BUILT_IN_PLUGINS  ";"-separated jar names under $FLINK_HOME/opt to load as plugins.
#
# Unlike the official image, the distribution at $FLINK_HOME is shared by every container of the sandbox, so
# the conf and plugins directories are never edited in place. A private copy is made when something must
# change (which also covers a read-only ConfigMap mount), and FLINK_CONF_DIR / FLINK_PLUGINS_DIR point to it.
# Nothing is written unless asked for: no default jobmanager.rpc.address, no jemalloc, no dropping of root.
set -euo pipefail

FLINK_HOME=${FLINK_HOME:-/opt/flink}
FLINK_CONF_DIR=${FLINK_CONF_DIR:-$FLINK_HOME/conf}
export FLINK_HOME FLINK_CONF_DIR

say() {
    echo "docker-entrypoint: $*" >&2
}

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

# Major version of the distribution, from lib/flink-dist-<version>.jar (older builds: flink-dist_<scala>-<v>).
flink_major() {
    local jar name
    for jar in "$FLINK_HOME"/lib/flink-dist*.jar; do
        name=${jar##*/}
        if [[ $name =~ -([0-9]+)\.[0-9]+[^/]*\.jar$ ]]; then
            echo "${BASH_REMATCH[1]}"
            return
        fi
    done
    echo 2
}

# The file Flink reads: 1.x prefers a legacy flink-conf.yaml when there is one, 2.x reads only config.yaml.
config_file() {
    if [ "$(flink_major)" -lt 2 ] && [ -f "$FLINK_CONF_DIR/flink-conf.yaml" ]; then
        echo "$FLINK_CONF_DIR/flink-conf.yaml"
    else
        echo "$FLINK_CONF_DIR/config.yaml"
    fi
}

PRIVATE_CONF=
use_private_conf_dir() {
    [ -z "$PRIVATE_CONF" ] || return 0
    PRIVATE_CONF=$(mktemp -d "${TMPDIR:-/tmp}/flink-conf.XXXXXX")
    if [ -d "$FLINK_CONF_DIR" ]; then
        # -L: ConfigMap volumes are symlinks into a ..data directory.
        cp -RL "$FLINK_CONF_DIR"/. "$PRIVATE_CONF"/
        chmod -R u+w "$PRIVATE_CONF"
    fi
    FLINK_CONF_DIR=$PRIVATE_CONF
    export FLINK_CONF_DIR
}

# set_option KEY VALUE: drop earlier top-level KEY lines (a repeated key is an error in config.yaml's
# standard YAML), then append. An appended flat key also wins over the same key written nested above it.
set_option() {
    local key=$1 value=$2 file
    use_private_conf_dir
    file=$(config_file)
    touch "$file"
    awk -v key="$key" '
        substr($0, 1, length(key)) == key && substr($0, length(key) + 1) ~ /^[ \t]*:/ { next }
        { print }
    ' "$file" > "$file.new"
    mv "$file.new" "$file"
    if [ -s "$file" ] && [ -n "$(tail -c 1 "$file")" ]; then
        echo >> "$file"
    fi
    printf '%s: %s\n' "$key" "$value" >> "$file"
}

apply_flink_properties() {
    local line key value
    while IFS= read -r line || [ -n "$line" ]; do
        line=${line%$'\r'}
        [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
        if [[ $line != *:* ]]; then
            say "ignoring FLINK_PROPERTIES line without 'key: value': $line"
            continue
        fi
        key=${line%%:*}
        value=${line#*:}
        key=${key#"${key%%[![:space:]]*}"}
        key=${key%"${key##*[![:space:]]}"}
        value=${value#"${value%%[![:space:]]*}"}
        value=${value%"${value##*[![:space:]]}"}
        set_option "$key" "$value"
    done <<< "$FLINK_PROPERTIES"
}

prepare_configuration() {
    if [ -n "${JOB_MANAGER_RPC_ADDRESS:-}" ]; then
        set_option jobmanager.rpc.address "$JOB_MANAGER_RPC_ADDRESS"
    fi
    if [ -n "${TASK_MANAGER_NUMBER_OF_TASK_SLOTS:-}" ]; then
        set_option taskmanager.numberOfTaskSlots "$TASK_MANAGER_NUMBER_OF_TASK_SLOTS"
    fi
    if [ -n "${FLINK_PROPERTIES:-}" ]; then
        apply_flink_properties
    fi
    if [ -n "$PRIVATE_CONF" ]; then
        say "using configuration $(config_file)"
    fi
}

# A private plugins directory: links to every plugin of the image plus the enabled jars from opt/.
enable_built_in_plugins() {
    [ -n "${ENABLE_BUILT_IN_PLUGINS:-}" ] || return 0
    local image_plugins=${FLINK_PLUGINS_DIR:-$FLINK_HOME/plugins} plugins entry jar name
    plugins=$(mktemp -d "${TMPDIR:-/tmp}/flink-plugins.XXXXXX")
    if [ -d "$image_plugins" ]; then
        for entry in "$image_plugins"/*; do
            [ -e "$entry" ] && ln -s "$entry" "$plugins/${entry##*/}"
        done
    fi
    IFS=';' read -ra jars <<< "$ENABLE_BUILT_IN_PLUGINS"
    for jar in "${jars[@]}"; do
        jar=${jar//[[:space:]]/}
        [ -n "$jar" ] || continue
        if [ ! -f "$FLINK_HOME/opt/$jar" ]; then
            say "plugin $jar is not in $FLINK_HOME/opt; cannot enable it"
            exit 1
        fi
        name=${jar%.jar}
        if [ -L "$plugins/$name" ]; then
            # The image already has this plugin directory: copy its links instead of writing into it.
            entry=$(readlink "$plugins/$name")
            rm "$plugins/$name"
            mkdir "$plugins/$name"
            ln -s "$entry"/* "$plugins/$name"/ 2>/dev/null || true
        fi
        mkdir -p "$plugins/$name"
        ln -sf "$FLINK_HOME/opt/$jar" "$plugins/$name/$jar"
        say "enabled plugin $jar"
    done
    FLINK_PLUGINS_DIR=$plugins
    export FLINK_PLUGINS_DIR
}

if [ $# -eq 0 ] || [ "$1" = help ] || [ "$1" = --help ]; then
    usage
    exit 0
fi

enable_built_in_plugins
prepare_configuration

role=$1
case "$role" in
    jobmanager) script=jobmanager.sh ;;
    taskmanager) script=taskmanager.sh ;;
    standalone-job) script=standalone-job.sh ;;
    history-server) script=historyserver.sh ;;
    sql-gateway) script=sql-gateway.sh ;;
    *)
        exec "$@"
        ;;
esac
shift
say "starting $role: $script start-foreground $*"
exec "$FLINK_HOME/bin/$script" start-foreground "$@"
