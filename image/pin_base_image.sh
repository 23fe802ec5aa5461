#!/usr/bin/env bash
# make pin-base-image: move the digest-pinned images of the Dockerfiles to what their tags name
# today. Each `ARG *_IMAGE=<tag>@sha256:<digest>` default and each `# syntax=<tag>@sha256:<digest>`
# line of inference/Dockerfile and training/Dockerfile gets the digest of <tag>'s multi-platform
# index, read from the registry with docker buildx imagetools, skopeo or crane (whichever is
# here). Review the diff, build (make image-test, or the image workflow), commit.
#
#   image/pin_base_image.sh [DOCKERFILE...]
set -euo pipefail
cd "$(dirname "$0")/.."

# <tag> -> sha256:<digest> of the manifest (the index for a multi-platform image) it names now.
resolve() {
    if command -v docker > /dev/null && docker buildx version > /dev/null 2>&1; then
        docker buildx imagetools inspect "$1" --format '{{json .Manifest.Digest}}' | tr -d '"'
    elif command -v skopeo > /dev/null; then
        # The digest of an image is the sha256 of its manifest's bytes.
        echo "sha256:$(skopeo inspect --raw "docker://docker.io/${1/#docker.io\//}" | sha256sum | cut -d' ' -f1)"
    elif command -v crane > /dev/null; then
        crane digest "$1"
    else
        echo "make pin-base-image needs docker buildx, skopeo or crane, and the registry" >&2
        exit 1
    fi
}

files=("$@")
[ ${#files[@]} -gt 0 ] || files=(inference/Dockerfile training/Dockerfile)
for file in "${files[@]}"; do
    refs=$(sed -n -e 's/^ARG [A-Z0-9_]*_IMAGE=\([^ ]*@sha256:[0-9a-f]\{64\}\)$/\1/p' \
                  -e 's/^# syntax=\([^ ]*@sha256:[0-9a-f]\{64\}\)$/\1/p' "$file")
    [ -n "$refs" ] || { echo "$file: no image pinned by digest" >&2; exit 1; }
    for ref in $refs; do
        tag=${ref%@sha256:*}
        digest=$(resolve "$tag")
        [[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] || { echo "$tag: no digest (got '$digest')" >&2; exit 1; }
        if [ "$ref" = "$tag@$digest" ]; then
            echo "$file: $tag is current ($digest)"
        else
            sed -i "s|$ref|$tag@$digest|" "$file"
            echo "$file: $tag -> $digest (was ${ref#*@})"
        fi
    done
done
