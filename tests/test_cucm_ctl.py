"""CTL/ITL files: the TLV layout byte for byte, reading back, and every refusal of a reader."""
from __future__ import annotations

import hashlib
import struct

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

import xsp_trust as trust
from xsp_trust import CtlEntry, CtlError, CtlReason, CtlRole, HashAlgorithm

TIMESTAMP = 1_780_000_000


@pytest.fixture(scope="module")
def pki():
    """The CallManager and ITLRecovery certificates, a CAPF CA and a stranger's certificate."""
    callmanager = trust.self_signed_server("cucm1.example.com")
    recovery = trust.self_signed_server("ITLRECOVERY_cucm1")
    capf = trust.CertificateAuthority.new_root("CAPF-1a2b3c4d")
    other = trust.self_signed_server("cucm9.example.com")
    return callmanager, recovery, capf, other


def entries(callmanager, recovery, capf):
    return [CtlEntry(CtlRole.SAST, callmanager.certificate, "cucm1.example.com", "127.0.0.1"),
            CtlEntry(CtlRole.SAST, recovery.certificate),
            CtlEntry(CtlRole.CCM_TFTP, callmanager.certificate, "cucm1.example.com", "127.0.0.1"),
            CtlEntry(CtlRole.CAPF, capf.certificate, "cucm1.example.com", "127.0.0.1")]


@pytest.fixture(scope="module")
def ctl(pki):
    """A CTLFile.tlv of those, signed by the CallManager certificate."""
    callmanager, recovery, capf, _ = pki
    return trust.write_ctl("CTLFile.tlv", entries(callmanager, recovery, capf),
                           callmanager.certificate, callmanager.private_key, timestamp=TIMESTAMP)


def elements(data: bytes, start: int, end: int) -> list[tuple[int, bytes]]:
    """An independent walk of the TLV layout, padding tag 13 being one byte."""
    out, pos = [], start
    while pos < end:
        if data[pos] == 13:
            out.append((13, b""))
            pos += 1
            continue
        tag, length = struct.unpack_from(">BH", data, pos)
        out.append((tag, data[pos + 3:pos + 3 + length]))
        pos += 3 + length
    assert pos == end
    return out


def test_header_layout_byte_for_byte(ctl, pki):
    """VERSION 1.2, HEADER_LENGTH, SIGNER_INFO(4,5,6), SIGNATURE_INFO(8,9(10,11),12), FILENAME, TIMESTAMP, padding."""
    callmanager = pki[0].certificate
    assert ctl[:5] == bytes([1, 0, 2, 1, 2])
    assert ctl[5:8] == bytes([2, 0, 2])
    header_length = struct.unpack(">H", ctl[8:10])[0]
    top = elements(ctl, 0, header_length)
    assert [t for t, _ in top if t != 13] == [1, 2, 3, 7, 14, 15]
    assert top[-1][0] == 13 or header_length % 4 == 0
    assert all(t == 13 for t, _ in top[6:])
    signer = dict(elements(top[2][1], 0, len(top[2][1])))
    assert signer[4] == callmanager.subject.rfc4514_string().encode() + b"\0"
    assert int.from_bytes(signer[5], "big") == callmanager.serial_number
    assert signer[6] == callmanager.issuer.rfc4514_string().encode() + b"\0"
    info = elements(top[3][1], 0, len(top[3][1]))
    assert [t for t, _ in info] == [8, 9, 12]
    assert info[0][1] == bytes([HashAlgorithm.SHA512])
    assert [t for t, _ in elements(info[1][1], 0, len(info[1][1]))] == [10, 11]
    assert len(info[2][1]) == 256
    assert top[4][1] == b"CTLFile.tlv\0"
    assert top[5][1] == struct.pack(">I", TIMESTAMP)


def test_records_layout_and_signature_over_file_minus_signature(ctl, pki):
    callmanager, recovery, capf, _ = pki
    header_length = struct.unpack(">H", ctl[8:10])[0]
    pos, roles = header_length, []
    while pos < len(ctl):
        assert ctl[pos:pos + 3] == bytes([1, 0, 2])
        length = struct.unpack(">H", ctl[pos + 3:pos + 5])[0]
        fields = dict(elements(ctl, pos + 5, pos + length))
        roles.append(struct.unpack(">H", fields[4])[0])
        der = fields[9]
        assert fields[11] == hashlib.sha1(der).digest()
        assert fields[3].endswith(b"\0")
        pos += length
    assert roles == [0, 0, 2, 4]
    # The signature covers the file with the SIGNATURE element cut out, nothing else.
    start = ctl.index(bytes([12, 1, 0]))
    signature = ctl[start + 3:start + 3 + 256]
    unsigned = ctl[:start] + ctl[start + 3 + 256:]
    callmanager.certificate.public_key().verify(signature, unsigned, padding.PKCS1v15(),
                                                hashes.SHA512())


def test_reads_back_and_verifies(ctl, pki):
    parsed = trust.verify_ctl(ctl)
    assert parsed.filename == "CTLFile.tlv"
    assert parsed.timestamp == TIMESTAMP
    assert [r.role_label for r in parsed.records] == ["SAST", "SAST", "CCM+TFTP", "CAPF"]
    assert parsed.records[0].certificate == pki[0].certificate
    assert parsed.records[0].ip_address == "127.0.0.1"
    assert parsed.signer_record() is parsed.records[0]


def test_sha1_signatures_are_read_too(pki):
    callmanager, recovery, capf, _ = pki
    data = trust.write_ctl("ITLFile.tlv", entries(callmanager, recovery, capf),
                           callmanager.certificate, callmanager.private_key, timestamp=1,
                           hash_algorithm=HashAlgorithm.SHA1)
    assert trust.verify_ctl(data).hash_algorithm == HashAlgorithm.SHA1


def refusal(data: bytes, trusted=None) -> CtlError:
    with pytest.raises(CtlError) as caught:
        trust.verify_ctl(data, trusted)
    return caught.value


def test_refuses_a_truncated_file(ctl):
    for cut in (5, 60, len(ctl) - 1, len(ctl) - 300):
        error = refusal(ctl[:cut])
        assert error.reason is CtlReason.TRUNCATED, cut
        assert str(error).startswith("truncated: ")


def test_refuses_a_bad_signature(ctl):
    tampered = bytearray(ctl)
    tampered[-40] ^= 0x01  # inside the last record's certificate hash
    error = refusal(bytes(tampered))
    assert error.reason is CtlReason.BAD_SIGNATURE
    assert str(error).startswith("bad signature: the signature does not verify with the key of CN=")


def test_refuses_a_file_with_no_sast_record(pki):
    callmanager, recovery, capf, _ = pki
    signed = trust.write_ctl("CTLFile.tlv", entries(callmanager, recovery, capf),
                             callmanager.certificate, callmanager.private_key, timestamp=1)
    # Turn both SAST roles into CCM: the file is still well formed but names no signer.
    data = signed.replace(bytes([4, 0, 2, 0, 0]), bytes([4, 0, 2, 0, 1]))
    error = refusal(data)
    assert error.reason is CtlReason.NO_SAST
    assert str(error) == "no SAST record: the file lists no SAST record to verify its signature with"


def test_refuses_a_signer_that_is_not_a_sast_record(pki):
    callmanager, recovery, capf, other = pki
    with pytest.raises(trust.TrustError, match="the signer must be listed as a SAST record"):
        trust.write_ctl("CTLFile.tlv", entries(callmanager, recovery, capf), other.certificate,
                        other.private_key, timestamp=1)
    # A file whose header names a serial that no SAST record has.
    good = trust.write_ctl("CTLFile.tlv", entries(callmanager, recovery, capf),
                           callmanager.certificate, callmanager.private_key, timestamp=1)
    serial = callmanager.certificate.serial_number
    raw = serial.to_bytes((serial.bit_length() + 7) // 8, "big")
    forged = good.replace(bytes([5]) + struct.pack(">H", len(raw)) + raw,
                          bytes([5]) + struct.pack(">H", len(raw)) + bytes(len(raw)), 1)
    error = refusal(forged)
    assert error.reason is CtlReason.WRONG_SIGNER
    assert "is not one of the file's SAST records" in str(error)


def test_a_later_file_must_be_signed_by_a_sast_already_trusted(ctl, pki):
    callmanager, recovery, capf, other = pki
    held = trust.read_ctl(ctl)
    rogue = trust.write_ctl("CTLFile.tlv", [CtlEntry(CtlRole.SAST, other.certificate),
                                            CtlEntry(CtlRole.CAPF, capf.certificate)],
                            other.certificate, other.private_key, timestamp=2)
    assert trust.verify_ctl(rogue).filename == "CTLFile.tlv"  # first download: trusted as is
    error = refusal(rogue, trusted=held)
    assert error.reason is CtlReason.WRONG_SIGNER
    assert str(error) == ("wrong signer: the signer CN=cucm9.example.com is not a SAST of the "
                          "CTL already held")
    # Re-signed by the recovery SAST, which the held file lists: accepted.
    renewed = trust.write_ctl("CTLFile.tlv", entries(callmanager, recovery, capf),
                              recovery.certificate, recovery.private_key, timestamp=3)
    assert trust.verify_ctl(renewed, trusted=held).timestamp == 3


def test_writer_refuses_what_readers_would_not_take(pki):
    callmanager, recovery, capf, _ = pki
    ec_signer = trust.self_signed_server("ec.example.com", key_type="ec")
    with pytest.raises(trust.TrustError, match="the signer needs an RSA key"):
        trust.write_ctl("CTLFile.tlv", [CtlEntry(CtlRole.SAST, ec_signer.certificate)],
                        ec_signer.certificate, ec_signer.private_key, timestamp=1)
    with pytest.raises(trust.TrustError, match="readers accept SHA1 and SHA512 signatures, not SHA256"):
        trust.write_ctl("CTLFile.tlv", entries(callmanager, recovery, capf), callmanager.certificate,
                        callmanager.private_key, timestamp=1, hash_algorithm=HashAlgorithm.SHA256)
    three = [CtlEntry(CtlRole.SAST, c.certificate) for c in (callmanager, recovery, capf)]
    with pytest.raises(trust.TrustError, match="at most 2 SAST records, not 3"):
        trust.write_ctl("CTLFile.tlv", three, callmanager.certificate, callmanager.private_key,
                        timestamp=1)


def test_describe_lists_header_and_records(ctl):
    lines = trust.describe_ctl(trust.read_ctl(ctl))
    assert lines[0] == "Version: 1.2"
    assert "FileName: CTLFile.tlv" in lines
    assert lines.count("Function: SAST") == 2
    assert "Function: CAPF" in lines
