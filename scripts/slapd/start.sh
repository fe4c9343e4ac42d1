#!/usr/bin/env bash
# Starts a private OpenLDAP slapd on loopback for development and tests, seeded with
# seed.ldif. Prints the ldap:// URL on stdout; everything else goes to stderr.
#
#   scripts/slapd/start.sh [--dir DIR] [--port PORT] [--tls-port PORT] [--ldif FILE]
#
# DIR defaults to a new temporary directory; PORT and --tls-port default to free ports.
# The server listens on ldap:// (StartTLS available) and ldaps://, with certificates from a
# test CA written to DIR/tls/ca.pem. Running it again on the same DIR reuses the running
# server. Installs nothing: on Debian, `apt-get install slapd ldap-utils` first.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="${SLAPD_DIR:-}"
port="${SLAPD_PORT:-}"
tls_port="${SLAPD_TLS_PORT:-}"
ldif="${SLAPD_LDIF:-$here/seed.ldif}"

while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    --tls-port) tls_port="$2"; shift 2 ;;
    --ldif) ldif="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) echo "start.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

SLAPD="${SLAPD_BIN:-/usr/sbin/slapd}"
missing=()
[ -x "$SLAPD" ] || missing+=("slapd")
for tool in ldapadd ldapsearch; do command -v "$tool" >/dev/null || missing+=("ldap-utils"); done
command -v openssl >/dev/null || missing+=("openssl")
if [ ${#missing[@]} -gt 0 ]; then
  echo "start.sh: missing Debian package(s): $(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')" >&2
  echo "  echo 'slapd slapd/no_configuration boolean true' | debconf-set-selections" >&2
  echo "  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slapd ldap-utils openssl" >&2
  exit 1
fi

BASE_DN="dc=loopstacks,dc=test"
ROOT_DN="cn=admin,$BASE_DN"
ROOT_PW="${SLAPD_ROOT_PASSWORD:-root-secret}"

[ -n "$dir" ] || dir="$(mktemp -d "${TMPDIR:-/tmp}/loopstacks-slapd.XXXXXX")"
mkdir -p "$dir/data" "$dir/tls"
dir="$(cd "$dir" && pwd)"

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( (RANDOM << 15 | RANDOM) % 40000 + 20000 ))
    if ! port_in_use "$p"; then echo "$p"; return 0; fi
  done
  echo "start.sh: no free port found" >&2
  return 1
}
answers() { ldapsearch -x -H "$1" -s base -b "" -o nettimeout=1 namingContexts >/dev/null 2>&1; }

# A server already running on this directory is reused: the URL it was started with is kept.
if [ -f "$dir/slapd.pid" ] && [ -f "$dir/url" ] && kill -0 "$(cat "$dir/slapd.pid")" 2>/dev/null && answers "$(cat "$dir/url")"; then
  echo "slapd already running in $dir" >&2
  cat "$dir/url"
  exit 0
fi

[ -n "$port" ] || port="$(free_port)"
[ -n "$tls_port" ] || tls_port="$(free_port)"
url="ldap://127.0.0.1:$port"
ldaps_url="ldaps://127.0.0.1:$tls_port"

# A test CA and a server certificate for 127.0.0.1/localhost, made once per directory.
if [ ! -f "$dir/tls/server.pem" ]; then
  (
    cd "$dir/tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=LoopStacks test CA" \
      -keyout ca.key -out ca.pem -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' > server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile server.ext -out server.pem 2>/dev/null
    chmod 600 ca.key server.key
  )
fi

cat > "$dir/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
moduleload refint
pidfile $dir/slapd.pid
argsfile $dir/slapd.args

# Active Directory accepts a DN with an empty password as an anonymous bind that "succeeds";
# this server does too, so tests prove the application refuses empty passwords itself.
allow bind_anon_dn

TLSCACertificateFile $dir/tls/ca.pem
TLSCertificateFile $dir/tls/server.pem
TLSCertificateKeyFile $dir/tls/server.key

database mdb
maxsize 33554432
suffix "$BASE_DN"
rootdn "$ROOT_DN"
rootpw $ROOT_PW
directory $dir/data

overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE
overlay refint
refint_attributes member

access to attrs=userPassword
  by self =xw
  by anonymous auth
  by * none
access to *
  by users read
  by * none
EOF

"$SLAPD" -h "$url/ $ldaps_url/" -f "$dir/slapd.conf" >"$dir/slapd.log" 2>&1 || {
  echo "start.sh: slapd failed to start (ports $port/$tls_port); its output:" >&2
  cat "$dir/slapd.log" >&2
  exit 1
}

for _ in $(seq 1 100); do
  answers "$url" && break
  sleep 0.05
done
if ! answers "$url"; then
  echo "start.sh: slapd did not answer on $url within 5 s" >&2
  cat "$dir/slapd.log" >&2
  [ -f "$dir/slapd.pid" ] && kill -INT "$(cat "$dir/slapd.pid")" 2>/dev/null || true
  exit 1
fi
echo "$url" > "$dir/url"
echo "$ldaps_url" > "$dir/ldaps-url"

# ldapadd, not slapadd: slapadd writes the database directly and bypasses the memberof overlay.
if [ ! -f "$dir/seeded" ]; then
  ldapadd -x -H "$url" -D "$ROOT_DN" -w "$ROOT_PW" -f "$ldif" >"$dir/seed.log" 2>&1 || {
    echo "start.sh: seeding $ldif failed:" >&2
    cat "$dir/seed.log" >&2
    exit 1
  }
  touch "$dir/seeded"
fi

cat >&2 <<EOF
slapd running in $dir (pid $(cat "$dir/slapd.pid"))
  ldap:   $url  (StartTLS available)
  ldaps:  $ldaps_url
  CA:     $dir/tls/ca.pem
  base:   $BASE_DN
  root:   $ROOT_DN
  stop:   $here/stop.sh --dir $dir
EOF
echo "$url"
