"""huiqi.trust: the transparency log, witnesses, signatures, field encryption and mTLS.

The public API (everything else is internal)::

    from huiqi.trust import TransparencyLog, create_tables
    log = TransparencyLog(engine, clock=clock)                  # origins linjiang.example/huiqi/<year>
    e = log.append({"type": "cert.issue", "time": ..., ...}, natural_key="cert/…", conn=conn)
    log.inclusion_proof(e.shard, e.index, size); log.consistency_proof(shard, old, new)
    cp = log.checkpoint(shard, [signer])                        # a C2SP signed checkpoint, kept

    from huiqi.trust.verify import verify_inclusion, verify_consistency   # no database
    from huiqi.trust.note import sign_note, verify_note, parse_signer, parse_verifier, Checkpoint
    from huiqi.trust.policy import TrustPolicy            # log keys, witnesses, quorum: verify_checkpoint()
    from huiqi.trust.proofs import ProofBundle            # C2SP tlog-proof: offline verify(entry, policy)

Heavier parts are imported from their modules: ``huiqi.trust.cosign.Cosigner`` (gather
cosignatures), ``huiqi.trust.witness`` (the witness and its HTTP app), ``huiqi.trust.fields``
(``Vault``, ``Keyring``: field encryption and rotation), ``huiqi.trust.tls`` (platform CA,
mTLS contexts and clients). Errors all derive from :class:`huiqi.trust.errors.TrustError`,
a :class:`huiqi.errors.HuiqiError`. See docs/trust.md.
"""

from huiqi.trust.entries import canonical_entry, format_time
from huiqi.trust.errors import (
    CertificateError,
    CryptoError,
    DuplicateEntryError,
    EntryError,
    KeyringError,
    LogError,
    NoteError,
    ProofError,
    QuorumError,
    SignatureError,
    SplitViewError,
    TrustError,
    WitnessError,
)
from huiqi.trust.log import DEFAULT_PREFIX, LoggedEntry, StoredCheckpoint, TransparencyLog
from huiqi.trust.merkle import EMPTY_ROOT, leaf_hash, node_hash
from huiqi.trust.note import Checkpoint, Note, generate_signer, parse_signer, parse_verifier, sign_note, verify_note
from huiqi.trust.policy import TrustPolicy, VerifiedCheckpoint
from huiqi.trust.proofs import ProofBundle
from huiqi.trust.schema import create_tables
from huiqi.trust.verify import verify_consistency, verify_inclusion

__all__ = [
    "DEFAULT_PREFIX",
    "EMPTY_ROOT",
    "CertificateError",
    "Checkpoint",
    "CryptoError",
    "DuplicateEntryError",
    "EntryError",
    "KeyringError",
    "LogError",
    "LoggedEntry",
    "Note",
    "NoteError",
    "ProofBundle",
    "ProofError",
    "QuorumError",
    "SignatureError",
    "SplitViewError",
    "StoredCheckpoint",
    "TransparencyLog",
    "TrustError",
    "TrustPolicy",
    "VerifiedCheckpoint",
    "WitnessError",
    "canonical_entry",
    "create_tables",
    "format_time",
    "generate_signer",
    "leaf_hash",
    "node_hash",
    "parse_signer",
    "parse_verifier",
    "sign_note",
    "verify_consistency",
    "verify_inclusion",
    "verify_note",
]
