"""Who may open an enterprise's account: checked against the registers through the gateway.

The legal representative: the name and 身份证号 the applicant types must match 法人库's
legal representative of the USCC (name exactly; the number in its masked form, which is all
the declaration lets the platform see) **and** 人口库 must hold a person with exactly that
number and name (the number is the request's subject, so it matches in full). An agent
(代理人): the person check in 人口库, the enterprise in 法人库; the agent's rights come from
the legal representative who appoints them, not from the registers.

Every check is a request of consumer ``platform/portal`` under purpose ``identity`` 身份核验,
whose declarations (``platform.portal.identity.*``) carry the legal basis; each answer's
log entry is kept with the account.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from stdnum.cn import ric

from huiqi.errors import InputError, Message
from huiqi.sharing.client import GatewayClient
from huiqi.sharing.errors import BadRequest, Refused
from huiqi.sharing.masking import mask_id_number

PURPOSE = "identity"
SYSTEM = "platform/portal"


@dataclass(frozen=True)
class Checked:
    enterprise_name: str
    person_name: str
    id_masked: str
    log: list[dict[str, Any]] = field(default_factory=list)


class IdentityCheck(Protocol):
    def legal_rep(self, uscc: str, name: str, id_number: str, *, case_id: str) -> Checked: ...

    def person(self, uscc: str, name: str, id_number: str, *, case_id: str) -> Checked: ...


def clean_id_number(value: str) -> str:
    number = (value or "").strip().upper()
    if not ric.is_valid(number):
        raise InputError(Message("身份证号码无效（校验位不符）", "invalid 身份证号 (check digit)"), field="id_number")
    return number


def _no_match(what: str) -> InputError:
    return InputError(
        Message(f"核验未通过：{what}", f"identity check failed: {what}"),
        field="id_number",
    )


@dataclass
class GatewayIdentity:
    """The real check, over mTLS to 市场监管局 and 公安局."""

    client: GatewayClient
    official: str = "portal-registration"

    def _enterprise(self, uscc: str, case_id: str) -> Any:
        try:
            answer = self.client.query(
                "samr",
                purpose=PURPOSE,
                subject={"uscc": uscc},
                official=self.official,
                case_id=case_id,
                fields=["name", "status", "legal_rep_name", "legal_rep_id_number"],
            )
        except BadRequest as e:
            raise InputError(
                Message("法人库中没有这个统一社会信用代码", "the USCC is not in the enterprise register"), field="uscc"
            ) from e
        if not answer.fields.get("name"):
            raise InputError(Message("法人库中没有这家企业", "no such enterprise in the register"), field="uscc")
        status = answer.fields.get("status")
        if status is not None and status.value not in ("存续", "在业", "开业"):
            raise InputError(
                Message(f"企业状态为“{status.value}”，不能注册", "the enterprise is not active"), field="uscc"
            )
        return answer

    def _person(self, id_number: str, name: str, case_id: str) -> Any:
        try:
            answer = self.client.query(
                "mps",
                purpose=PURPOSE,
                subject={"id_number": id_number},
                official=self.official,
                case_id=case_id,
                fields=["name"],
            )
        except (BadRequest, Refused) as e:
            raise _no_match("人口库中没有该身份证号") from e
        found = answer.fields.get("name")
        if found is None or found.value != name:
            raise _no_match("姓名与身份证号不一致")
        return answer

    def legal_rep(self, uscc: str, name: str, id_number: str, *, case_id: str) -> Checked:
        ent = self._enterprise(uscc, case_id)
        rep_name = ent.fields.get("legal_rep_name")
        rep_id = ent.fields.get("legal_rep_id_number")
        if rep_name is None or rep_id is None or rep_name.value != name or rep_id.value != mask_id_number(id_number):
            raise _no_match("申请人不是法人库登记的法定代表人")
        person = self._person(id_number, name, case_id)
        return Checked(str(ent.fields["name"].value), name, mask_id_number(id_number), [_log(ent), _log(person)])

    def person(self, uscc: str, name: str, id_number: str, *, case_id: str) -> Checked:
        ent = self._enterprise(uscc, case_id)
        person = self._person(id_number, name, case_id)
        return Checked(str(ent.fields["name"].value), name, mask_id_number(id_number), [_log(ent), _log(person)])


def _log(answer: Any) -> dict[str, Any]:
    log = answer.log
    return log.model_dump(mode="json") if hasattr(log, "model_dump") else dict(log or {})
