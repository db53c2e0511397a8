"""Test certificate authority (python3-cryptography).

server_material(dir) writes ca.pem/ca-key.pem (reused if present) and a
server cert for 127.0.0.1/localhost signed by it; cluster_material(dir, name)
does the same with a fresh per-cluster CA for a kubesim endpoint.  Keys are
EC P-256; files are created 0600 (keys) in the given directory.
"""
import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _write(path, data, mode=0o644):
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_ca(common_name):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.utcnow()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def make_leaf(ca_key, ca_cert, common_name):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.utcnow()
    san = x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                       x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=825))
            .add_extension(san, critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def server_material(d):
    """Return (ca.pem, server.pem, server-key.pem) paths in d."""
    ca_pem, ca_key_pem = os.path.join(d, "ca.pem"), os.path.join(d, "ca-key.pem")
    if os.path.exists(ca_pem) and os.path.exists(ca_key_pem):
        with open(ca_key_pem, "rb") as fh:
            ca_key = serialization.load_pem_private_key(fh.read(), None)
        with open(ca_pem, "rb") as fh:
            ca_cert = x509.load_pem_x509_certificate(fh.read())
    else:
        ca_key, ca_cert = make_ca("awssim test CA")
        _write(ca_key_pem, _key_pem(ca_key), 0o600)
        _write(ca_pem, _pem(ca_cert))
    key, cert = make_leaf(ca_key, ca_cert, "awssim")
    cert_path, key_path = os.path.join(d, "server.pem"), os.path.join(d, "server-key.pem")
    _write(key_path, _key_pem(key), 0o600)
    _write(cert_path, _pem(cert))
    return ca_pem, cert_path, key_path


def cluster_material(d, cluster):
    """Fresh CA + server cert for one cluster; returns (ca_pem_bytes, cert, key)."""
    os.makedirs(d, exist_ok=True)
    ca_key, ca_cert = make_ca(f"kubernetes ({cluster})")
    key, cert = make_leaf(ca_key, ca_cert, "kube-apiserver")
    ca_path = os.path.join(d, "ca.pem")
    cert_path, key_path = os.path.join(d, "server.pem"), os.path.join(d, "server-key.pem")
    _write(ca_path, _pem(ca_cert))
    _write(key_path, _key_pem(key), 0o600)
    _write(cert_path, _pem(cert))
    return _pem(ca_cert), cert_path, key_path
