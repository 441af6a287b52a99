#!/usr/bin/env bash
# Run our tests, or one job, inside AWS Glue 5.0's own Docker image — the way AWS documents it
# ("Develop and test AWS Glue jobs locally using a Docker image", AWS Glue developer guide):
#
#   image      public.ecr.aws/glue/aws-glue-libs:5  (Amazon Linux 2023, Spark 3.5.4, Python 3.11, Java 17)
#   user       hadoop (the image's own); the repository is mounted at /home/hadoop/workspace/
#   AWS        ~/.aws mounted read-only at /home/hadoop/.aws, AWS_PROFILE passed in
#   commands   pytest:        docker run -i --rm … --workdir /home/hadoop/workspace IMAGE -c "python3 -m pytest …"
#              spark-submit:  docker run -i --rm … IMAGE -c "spark-submit /home/hadoop/workspace/jobs/<job>.py …"
#
# Usage:
#   scripts/glue-docker.sh [--print] test [PYTEST ARGS…]     default args: -m "not integration"
#   scripts/glue-docker.sh [--print] run JOB [JOB ARGS…]     JOB: export-import, table-copy, or jobs/<file>.py
#
# --print writes the docker command line instead of running it (no Docker engine needed).
# Environment: GLUE_IMAGE (default public.ecr.aws/glue/aws-glue-libs:5), AWS_PROFILE (default
# "default"), AWS_DIR (default ~/.aws), WORKSPACE (default: this repository).
#
# Inside the container the library is used from the mounted sources (on PYTHONPATH, as Glue's
# --extra-py-files would), and our Python dependencies are pip-installed into the hadoop user's
# site-packages from requirements-dev.txt — except pyspark, which the image provides.
set -euo pipefail

usage() {
    sed -n '12,14p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

print_only=0
if [[ "${1:-}" == "--print" ]]; then
    print_only=1
    shift
fi
[[ $# -ge 1 ]] || usage
mode=$1
shift

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
workspace=${WORKSPACE:-$here}
image=${GLUE_IMAGE:-public.ecr.aws/glue/aws-glue-libs:5}
profile=${AWS_PROFILE:-default}
aws_dir=${AWS_DIR:-$HOME/.aws}
inside=/home/hadoop/workspace

# Our dependencies, without the editable install of ourselves and without pyspark (the image's Spark wins).
install="grep -vE '^(-e |pyspark)' requirements-dev.txt > /tmp/ddbmigrate-requirements.txt"
install+=" && python3 -m pip install --user --quiet -r /tmp/ddbmigrate-requirements.txt"

# Shell-quote words for one command line: plain words as they are, others in single quotes.
quote() {
    local out="" word
    for word in "$@"; do
        if [[ "$word" =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
            out+=" $word"
        else
            out+=" '${word//\'/\'\\\'\'}'"
        fi
    done
    printf '%s' "${out# }"
}

case "$mode" in
    test)
        [[ $# -gt 0 ]] || set -- -m "not integration"
        name=glue5_pytest
        command="$install && python3 -m pytest -p no:cacheprovider --disable-warnings $(quote "$@")"
        ports=()
        ;;
    run)
        [[ $# -ge 1 ]] || usage
        job=$1
        shift
        case "$job" in
            *.py) script=$job; job_name=$(basename "$job" .py) ;;
            *) job_name=$job; script="jobs/$(printf '%s' "${job#ddbmigrate-}" | tr '-' '_').py" ;;
        esac
        if [[ ! -f "$workspace/$script" ]]; then
            echo "glue-docker: no job script $script in $workspace (JOB: export-import, table-copy or jobs/<file>.py)" >&2
            exit 2
        fi
        name=glue5_spark_submit
        command="$install && PYTHONPATH=$inside\${PYTHONPATH:+:\$PYTHONPATH} spark-submit $(quote "$inside/$script" --JOB_NAME "$job_name" "$@")"
        ports=(-p 4040:4040)
        ;;
    *)
        usage
        ;;
esac

docker_args=(docker run -i)
if [[ -t 0 && -t 1 && $print_only -eq 0 ]]; then
    docker_args+=(-t)
fi
docker_args+=(--rm
    -v "$aws_dir:/home/hadoop/.aws:ro"
    -v "$workspace:$inside/"
    --workdir "$inside"
    -e "AWS_PROFILE=$profile"
    ${ports[@]+"${ports[@]}"}
    --name "$name"
    "$image"
    -c "$command")

if [[ $print_only -eq 1 ]]; then
    quote "${docker_args[@]}"
    echo
    exit 0
fi
if ! command -v docker > /dev/null 2>&1; then
    echo "glue-docker: docker is not installed or not on PATH (use --print to see the command)" >&2
    exit 127
fi
exec "${docker_args[@]}"
