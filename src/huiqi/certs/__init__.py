"""huiqi.certs: 电子证照 — W3C VC 2.0 e-licences with the national 证照标识, issued, changed, revoked
and verified on the witnessed transparency log (docs/certs.md).

The public API (everything else is internal)::

    from huiqi.certs import Licences, Notary, IssuerKeys, Anchors, Verifier, parse_licence_id
    lic = Licences(engine, log, clock=clock, keys=IssuerKeys.load(folder), notary=Notary(log, [log_key], policy))
    lic.register_keys()                                   # key.register entries for new issuer keys
    issued = lic.issue("YYZZ", {"uscc": …, "name": …, …})  # cert.issue; lic.change(…) / lic.revoke(…)
    lic.publish()                                         # checkpoint + department witnesses' cosignatures
    package = lic.package(str(issued.id))                 # credential + log evidence + status snapshot
    Verifier(Anchors(policy), clock=clock).verify(package)  # offline: pinned keys only → Verification
    lic.verify(credential_or_package); lic.lookup(id, purpose=…, requester=…)   # online; lookup is logged

    from huiqi.certs.facts import verified_certifications  # 资质 facts for the calculator
    from huiqi.certs.sdjwt import issue_sd_jwt, present, verify_presentation   # selective disclosure
"""

from huiqi.certs.catalog import DEPARTMENTS, LICENCE_TYPES, Department, LicenceType
from huiqi.certs.credential import IssuerKeys
from huiqi.certs.errors import CertError, IdentifierError, IssuanceError, NotFoundError, ProofError
from huiqi.certs.identifier import LicenceId, parse_licence_id
from huiqi.certs.service import PURPOSES, Issued, IssueRequest, Licences, Notary
from huiqi.certs.verify import VERDICTS, Anchors, CheckpointCache, Verification, Verifier

__all__ = [
    "DEPARTMENTS",
    "LICENCE_TYPES",
    "PURPOSES",
    "VERDICTS",
    "Anchors",
    "CertError",
    "CheckpointCache",
    "Department",
    "IdentifierError",
    "IssuanceError",
    "IssueRequest",
    "Issued",
    "IssuerKeys",
    "LicenceId",
    "LicenceType",
    "Licences",
    "NotFoundError",
    "Notary",
    "ProofError",
    "Verification",
    "Verifier",
    "parse_licence_id",
]
