"""Throwaway certificates for TLS tests, made with the `openssl` command-line tool.

    ca = make_ca(tmp_dir)                                   # Cert(cert=..., key=...)
    server = make_cert(tmp_dir, ca, "server")               # SANs 127.0.0.1 and localhost
    client = make_cert(tmp_dir, ca, "client", client=True)  # for clientAuth

Every file is PEM, keys unencrypted (EC P-256, quick to make). Certificates are valid from one
hour ago (clock skew) for 30 days. Nothing here is secret: use only in tests.
"""

import collections
import ipaddress
import os
import subprocess

Cert = collections.namedtuple("Cert", "cert key name")


def _openssl(*args, cwd=None):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed ({r.returncode}):\n{r.stderr}")
    return r.stdout


def _new_key(path):
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)
    os.chmod(path, 0o600)


def make_ca(directory, name="tandem-test-ca"):
    """A self-signed CA in `directory`: <name>.pem and <name>.key."""
    os.makedirs(directory, exist_ok=True)
    key = os.path.join(directory, f"{name}.key")
    cert = os.path.join(directory, f"{name}.pem")
    _new_key(key)
    _openssl("req", "-x509", "-new", "-key", key, "-out", cert, "-days", "30", "-subj", f"/CN={name}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return Cert(cert, key, name)


def make_cert(directory, ca, name, hosts=("127.0.0.1", "localhost"), client=False):
    """A certificate for `name` signed by `ca` (a make_ca result): <name>.pem and <name>.key.
    `hosts` become subjectAltNames (IP addresses as IP, others as DNS); `client` makes a
    client-authentication certificate instead of a server one."""
    os.makedirs(directory, exist_ok=True)
    key = os.path.join(directory, f"{name}.key")
    csr = os.path.join(directory, f"{name}.csr")
    cert = os.path.join(directory, f"{name}.pem")
    ext = os.path.join(directory, f"{name}.ext")
    _new_key(key)
    _openssl("req", "-new", "-key", key, "-out", csr, "-subj", f"/CN={name}")
    sans = []
    for h in hosts:
        try:
            ipaddress.ip_address(h)
            sans.append(f"IP:{h}")
        except ValueError:
            sans.append(f"DNS:{h}")
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\n")
        f.write("keyUsage=critical,digitalSignature,keyEncipherment\n")
        f.write(f"extendedKeyUsage={'clientAuth' if client else 'serverAuth'}\n")
        if sans:
            f.write(f"subjectAltName={','.join(sans)}\n")
    _openssl("x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial",
             "-out", cert, "-days", "30", "-extfile", ext)
    os.remove(csr)
    os.remove(ext)
    return Cert(cert, key, name)
