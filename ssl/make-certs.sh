#!/usr/bin/env bash
# Test PKI for the TLS integration tests (mutual TLS against the project-local broker).
#
#   ssl/make-certs.sh [--force] [DIR]      (DIR defaults to the folder of this script)
#
# Writes:
#   ca.pem / ca-key.pem                    test CA "ChannelsRabbitMq.Akka Test CA"
#   server.pem / server-key.pem            CN=localhost, SAN DNS:localhost IP:127.0.0.1 IP:::1, serverAuth
#   client.pem / client-key.pem            CN=channels-test-client, clientAuth
#   client.p12                             client cert + key, password "changeit"
#   untrusted-ca.pem / untrusted-ca-key.pem           a second CA nobody trusts
#   untrusted-server.pem / untrusted-server-key.pem   CN=localhost, signed by the untrusted CA
#   untrusted-client.pem / untrusted-client-key.pem   CN=channels-test-client, signed by the untrusted CA
#
# Idempotent: does nothing while every file exists, the certificates still have a week
# to live and still chain to their CA. Otherwise it regenerates the whole set (the leaves
# must match the CA, so there is no partial regeneration).
#
# Why the CA's CN is not "localhost": OpenSSL 3 clients treat a certificate whose subject
# equals its issuer's subject as self-issued and refuse the chain.
set -euo pipefail

force=0
if [[ ${1:-} == --force ]]; then force=1; shift; fi
dir=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
mkdir -p "$dir"
cd "$dir"

readonly P12_PASSWORD=changeit
readonly CA_DAYS=3650 LEAF_DAYS=1825
readonly FILES=(ca.pem ca-key.pem server.pem server-key.pem client.pem client-key.pem client.p12
    untrusted-ca.pem untrusted-ca-key.pem untrusted-server.pem untrusted-server-key.pem
    untrusted-client.pem untrusted-client-key.pem)

up_to_date() {
    local f
    for f in "${FILES[@]}"; do [[ -s $f ]] || return 1; done
    for f in ca.pem server.pem client.pem untrusted-ca.pem untrusted-server.pem untrusted-client.pem; do
        openssl x509 -in "$f" -noout -checkend $((7 * 86400)) >/dev/null 2>&1 || return 1
    done
    openssl verify -CAfile ca.pem server.pem client.pem >/dev/null 2>&1 || return 1
    openssl verify -CAfile untrusted-ca.pem untrusted-server.pem untrusted-client.pem >/dev/null 2>&1 || return 1
    openssl pkcs12 -in client.p12 -passin "pass:$P12_PASSWORD" -nokeys -noout >/dev/null 2>&1 || return 1
}

if ((force == 0)) && up_to_date; then
    exit 0
fi

# Generate into a scratch folder and move into place at the end, so an interrupted run
# never leaves a CA that does not match its leaves.
work=$(mktemp -d "$dir/.make-certs.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

# Our own config: the system openssl.cnf would add its default extensions to the CA.
cat >openssl.cnf <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
EOF

new_key() { openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1"; }

# new_ca NAME CN
new_ca() {
    new_key "$1-key.pem"
    openssl req -config openssl.cnf -x509 -new -sha256 -days "$CA_DAYS" \
        -key "$1-key.pem" -subj "/CN=$2" -extensions ca_ext -out "$1.pem"
}

# new_leaf NAME CN EXTENSIONS CA-NAME
new_leaf() {
    new_key "$1-key.pem"
    openssl req -config openssl.cnf -new -key "$1-key.pem" -subj "/CN=$2" -out "$1.csr"
    openssl x509 -req -sha256 -days "$LEAF_DAYS" -in "$1.csr" \
        -CA "$4.pem" -CAkey "$4-key.pem" -set_serial "0x$(openssl rand -hex 16)" \
        -extfile openssl.cnf -extensions "$3" -out "$1.pem" 2>/dev/null
}

new_ca ca "ChannelsRabbitMq.Akka Test CA"
new_leaf server localhost server_ext ca
new_leaf client channels-test-client client_ext ca
openssl pkcs12 -export -in client.pem -inkey client-key.pem -name channels-test-client \
    -passout "pass:$P12_PASSWORD" -out client.p12

new_ca untrusted-ca "ChannelsRabbitMq.Akka Untrusted CA"
new_leaf untrusted-server localhost server_ext untrusted-ca
new_leaf untrusted-client channels-test-client client_ext untrusted-ca

chmod 0644 ./*.pem
chmod 0600 ./*-key.pem client.p12
mv -f "${FILES[@]}" "$dir/"
echo "make-certs: wrote a fresh test PKI to $dir"
