#!/usr/bin/env bash
# Stand-in base images for buildah, made offline: every registry image inference/Dockerfile builds
# FROM gets a local image of its name, so the Dockerfile builds on a machine with no Docker engine
# and no registry. A base pinned by digest (ARG PYTHON_IMAGE=python:X.Y-slim-bookworm@sha256:...)
# gets a stand-in of its tag, which make image passes as the build arg (a stand-in cannot have
# the registry's digest: image/engines.py). Today that is one image, python:X.Y-slim-bookworm:
# Debian bookworm (debootstrap --variant=minbase, docs and apt lists removed as in debian:slim),
# the runtime libraries CPython needs, and a CPython X.Y of this machine copied to /usr/local the
# way the official image lays it out (pip and setuptools from its ensurepip, no tests, no .pyc).
# CI never runs this: it builds from the real images (image/engines.py, DockerEngine).
#
#   image/stand_in_bases.sh            make each missing stand-in (skips those that exist)
#   FORCE=1 image/stand_in_bases.sh    remake them
# CPYTHON_PREFIX=/path/to/prefix picks the CPython (default: the newest pyenv build of X.Y);
# BUILDAH_STORAGE_DRIVER the storage driver (make image passes the one it uses; default vfs).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILDAH=(buildah --storage-driver "${BUILDAH_STORAGE_DRIVER:-vfs}")
mkdir -p build/image
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# What python:X.Y-slim-bookworm installs besides the base system (docker-library/python's list).
RUNTIME_PACKAGES=ca-certificates,netbase,tzdata,libssl3,libffi8,libsqlite3-0,zlib1g,libbz2-1.0,liblzma5,libncursesw6,libreadline8,libuuid1,libgdbm6,libnsl2,libtirpc3,libexpat1,libcrypt1,libdb5.3

# FROM lines naming an image, and the tags of the pinned base-image args (their digest stripped).
froms=$( { sed -n 's/^FROM \([^ ]*\).*/\1/p' inference/Dockerfile
           sed -n 's/^ARG [A-Z0-9_]*_IMAGE=\([^@ ]*\)@sha256:[0-9a-f]*$/\1/p' inference/Dockerfile; } | sort -u)
for from in $froms; do
    case "$from" in
        python:*-slim-bookworm) ;;
        scratch | *\$*) continue ;;  # no image, or a stage chosen by a build arg
        *) grep -q "AS $from\$" inference/Dockerfile && continue  # a stage of the Dockerfile
           echo "no stand-in recipe for base image $from: add one to $0" >&2; exit 1 ;;
    esac
    name="docker.io/library/$from"
    if [ -z "${FORCE:-}" ] && "${BUILDAH[@]}" inspect --type image "$name" >/dev/null 2>&1; then
        echo "stand-in $from exists"
        continue
    fi
    version=${from#python:}; version=${version%-slim-bookworm}
    prefix=${CPYTHON_PREFIX:-$(ls -d /root/.pyenv/versions/"$version".* 2>/dev/null | sort -V | tail -n 1)}
    if [ -z "$prefix" ] || [ ! -x "$prefix/bin/python$version" ]; then
        echo "no CPython $version found for the stand-in $from: set CPYTHON_PREFIX" >&2
        exit 1
    fi
    full_version=$("$prefix/bin/python$version" -c 'import platform; print(platform.python_version())')
    echo "making stand-in $from: Debian bookworm minbase + CPython $full_version from $prefix"

    ctr=$("${BUILDAH[@]}" from scratch)
    trap '"${BUILDAH[@]}" rm "$ctr" >/dev/null 2>&1 || true' EXIT
    root=$("${BUILDAH[@]}" mount "$ctr")
    # Everything below writes under $root: refuse anything but an empty buildah mount.
    case "$root" in /var/lib/containers/storage/*/*) ;; *) echo "unexpected mount $root" >&2; exit 1 ;; esac
    [ -z "$(ls -A "$root")" ] || { echo "mount $root is not empty" >&2; exit 1; }

    debootstrap --variant=minbase --include="$RUNTIME_PACKAGES" bookworm "$root" "$DEBIAN_MIRROR" \
        > build/image/debootstrap.log 2>&1 || { tail -20 build/image/debootstrap.log >&2; exit 1; }
    # debian:bookworm-slim's dpkg filter, and the files it keeps out.
    cat > "$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
    find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$root"/usr/share/{man,groff,info,lintian,linda,locale}/* "$root"/var/cache/apt/archives/*.deb \
        "$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root"/var/cache/ldconfig/aux-cache

    # CPython as the official image has it: /usr/local, shared libpython, stripped, no tests.
    mkdir -p "$root/usr/local/bin" "$root/usr/local/lib" "$root/usr/local/include"
    cp -a "$prefix/bin/python$version" "$root/usr/local/bin/"
    cp -a "$prefix"/lib/libpython"$version"*.so* "$prefix/lib/libpython3.so" "$root/usr/local/lib/"
    cp -a "$prefix/include/python$version" "$root/usr/local/include/"
    tar -C "$prefix/lib" --exclude="python$version/site-packages/*" --exclude='__pycache__' \
        --exclude='*.pyc' --exclude='test' --exclude='tests' --exclude='idle_test' --exclude='libpython*.a' \
        -cf - "python$version" | tar -C "$root/usr/local/lib" -xf -
    find "$root/usr/local" -type f \( -name '*.so' -o -name '*.so.*' -o -name "python$version" \) \
        -exec strip --strip-all {} +
    printf '#!/usr/local/bin/python%s\nimport pydoc\nif __name__ == "__main__":\n    pydoc.cli()\n' "$version" \
        > "$root/usr/local/bin/pydoc$version"
    chmod 755 "$root/usr/local/bin/pydoc$version"
    for link in python3:python$version python:python3 pydoc3:pydoc$version pydoc:pydoc3; do
        ln -sf "${link#*:}" "$root/usr/local/bin/${link%%:*}"
    done
    chroot "$root" /sbin/ldconfig
    chroot "$root" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin PIP_ROOT_USER_ACTION=ignore \
        /usr/local/bin/python"$version" -m ensurepip --default-pip > /dev/null
    find "$root/usr/local" -depth -name __pycache__ -exec rm -rf {} +
    chroot "$root" /usr/local/bin/python -c 'import ssl, sqlite3, lzma, bz2, zlib, ctypes, readline, uuid, venv' \
        || { echo "the stand-in's CPython misses a runtime library" >&2; exit 1; }

    "${BUILDAH[@]}" umount "$ctr" >/dev/null
    "${BUILDAH[@]}" config --env PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin \
        --env LANG=C.UTF-8 --env PYTHON_VERSION="$full_version" --cmd python3 \
        --label org.opencontainers.image.description="stand-in for $from, made offline by $0" "$ctr"
    "${BUILDAH[@]}" commit --quiet --rm "$ctr" "$name" > /dev/null
    trap - EXIT
    echo "stand-in $from: $("${BUILDAH[@]}" images --format '{{.Size}}' "$name")"
done
