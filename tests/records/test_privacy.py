"""Finding personal data in what practitioners type: every value here is made up.

Phone numbers are from Ofcom's ranges for drama (07700 900xxx, 0161 496 0xxx, 020 7946 0xxx,
01632 960xxx, 0191 498 0xxx); NHS numbers are built from made-up stems with their check digit.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest

from bot.records.privacy import (
    FIRST_NAMES_FILE,
    KINDS,
    Finding,
    contact_emails,
    describe,
    find_personal_data,
    nhs_check_digit,
    redact,
)

TODAY = date(2026, 11, 23)


def found(text: str, allowed: tuple[str, ...] = (), today: date = TODAY) -> list[tuple[str, str]]:
    """(kind, the text found) pairs, so failures read as sentences."""
    return [(f.kind, text[f.start : f.end]) for f in find_personal_data(text, allowed, today=today)]


def nhs_number(stem: str, separator: str = " ") -> str:
    """A made-up NHS number: nine digits and their modulus 11 check digit, written 3-3-4."""
    total = sum(int(digit) * (10 - position) for position, digit in enumerate(stem))
    check = (11 - total % 11) % 11
    assert check != 10, f"{stem} has no valid check digit; pick another stem"
    digits = stem + str(check)
    return separator.join((digits[:3], digits[3:6], digits[6:])) if separator != "none" else digits


def wrong_check_digit(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


# --- names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Mrs Kerry Smith is the mother", ["Mrs Kerry Smith"]),
        ("mum Kerry said the school ignored her", ["Kerry"]),
        ("her son tyler was excluded on Monday", ["tyler"]),
        ("mum kerry and dad wayne both refused the assessment", ["kerry", "wayne"]),
        ("the baby is called Nevaeh", ["Nevaeh"]),
        ("he is known as Tiny on the estate", ["Tiny"]),
        ("The boy, known as TJ, goes to Oak Hill Academy", ["TJ"]),
        ("a girl called maisie disclosed to her teacher", ["maisie"]),
        ("she goes by Lexi", ["Lexi"]),
        ("His name is Reuben", ["Reuben"]),
        ("Amelia Johnson disclosed at school", ["Amelia Johnson"]),
        ("Tyler said mum hits him", ["Tyler"]),
        ("The SW visited Oliver at home", ["Oliver"]),
        ("Mr and Mrs Okafor attended the ICPC", ["Mr and Mrs Okafor"]),
        ("Mr & Mrs Smith were not invited", ["Mr & Mrs Smith"]),
        ("Mr J. Smith refused entry", ["Mr J. Smith"]),
        ("mrs jones phoned back", ["mrs jones"]),
        ("Mrs Ward from the housing association", ["Mrs Ward"]),
        ("Dr Patel at the surgery would not share", ["Dr Patel"]),
        ("DS Harris and PC Jones attended", ["DS Harris", "PC Jones"]),
        ("Zyanya's mum refused", ["Zyanya"]),
        ("Kerry's partner has moved in", ["Kerry"]),
        ("dad (Mohammed) was not spoken to", ["Mohammed"]),
        ("the child, Aisha, was not seen", ["Aisha"]),
        ("the child (Muhammad, 6) has bruises", ["Muhammad"]),
        ("Her brother Jayden (14) is also open to CSC", ["Jayden"]),
        ("step-dad Darren has a DV history", ["Darren"]),
        ("her nan, Pauline, is the main carer", ["Pauline"]),
        ("His Mum Leanne was not told", ["Leanne"]),
        ("Baby Oliwia was seen at 31 weeks", ["Oliwia"]),
        ("Zainab and Fatima are twins", ["Zainab", "Fatima"]),
        ("Ali Khan is the dad", ["Ali Khan"]),
        ("Mother: Kerry-Ann", ["Kerry-Ann"]),
        ("the resident, Doreen, has dementia", ["Doreen"]),
        ("the patient (Zofia) was seen alone", ["Zofia"]),
        ("Mum - Leanne Jones; Dad - Craig Jones", ["Leanne Jones", "Craig Jones"]),
        ("the patient named Mr O'Brien", ["Mr O'Brien"]),
    ],
)
def test_names(text, expected):
    assert found(text) == [("name", name) for name in expected]


# --- dates of birth ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("DOB: 03/03/2012", "03/03/2012"),
        ("d.o.b 3.3.12, lives with mum", "3.3.12"),
        ("date of birth 14 February 2011", "14 February 2011"),
        ("her date of birth is the 14th of February 2011", "14th of February 2011"),
        ("born on 3rd March 2012", "3rd March 2012"),
        ("she was born March 3rd 2012", "March 3rd 2012"),
        ("she was born in May 2019", "May 2019"),
        ("14/02/2011 (DOB)", "14/02/2011"),
        ("DoB 2012-03-03", "2012-03-03"),
        ("Date of Birth - 7-9-1954", "7-9-1954"),
        ("dob 3/3", "3/3"),
        ("Baby born 02.11.2025 at 31 weeks", "02.11.2025"),
        ("D.O.B. 29/02/2016", "29/02/2016"),
    ],
)
def test_dates_of_birth(text, expected):
    assert found(text) == [("date_of_birth", expected)]


@pytest.mark.parametrize(
    "text",
    [
        "baby due to be born on 4/12/2031",  # not born yet: a due date
        "dob 31/02/2012",  # no such day
        "born in 2012",  # a year alone says little
        "born in March",  # "born in" needs a year
        "meeting on 28/11/2026, dob to follow",  # the cue comes after, and the date is no birth
        "The DOB was checked. The review is on 3/12/2026",  # a sentence apart
    ],
)
def test_dates_that_are_not_dates_of_birth(text):
    assert found(text) == []


def test_two_digit_years_are_read_as_the_past():
    # "27" cannot be 2027 (not born yet on TODAY), so it is 1927 and still a date of birth.
    assert found("dob 01/01/27") == [("date_of_birth", "01/01/27")]
    assert found("dob 7/9/54") == [("date_of_birth", "7/9/54")]
    assert found("born on 01/01/27", today=date(2027, 6, 1)) == [("date_of_birth", "01/01/27")]


# --- addresses -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("lives at 12 Oak Road", "12 Oak Road"),
        ("flat 4, 27 Kingsway Court", "flat 4, 27 Kingsway Court"),
        ("now at Flat 3 Alder House", "Flat 3 Alder House"),
        ("no. 12 Hilltop Avenue", "no. 12 Hilltop Avenue"),
        ("moved to 3 Meadow View last month", "3 Meadow View"),
        ("45a St John's Road, Bury BL9 0EJ", "45a St John's Road, Bury BL9 0EJ"),
        ("postcode BL9 0EJ", "BL9 0EJ"),
        ("the family moved to NE33 2RL", "NE33 2RL"),
        ("staying with nan in pe1 1xx", "pe1 1xx"),
        ("12-14 High St. is the hostel", "12-14 High St."),
        ("they live at 7 Cherry Tree Close", "7 Cherry Tree Close"),
        ("SW1A 1AA", "SW1A 1AA"),
    ],
)
def test_addresses(text, expected):
    assert found(text) == [("address", expected)]


def test_a_full_address_is_one_finding():
    text = "DOB 15/06/1948, lives at Flat 2, 9 Mill Lane, Warrington WA1 1AA"
    assert found(text) == [
        ("date_of_birth", "15/06/1948"),
        ("address", "Flat 2, 9 Mill Lane, Warrington WA1 1AA"),
    ]


# --- NHS numbers ---------------------------------------------------------------------------------

NHS_STEMS = ["943476591", "401023213", "485777345", "612345678", "738201946", "450557710",
             "999999999", "123456788"]  # fmt: skip


def test_known_nhs_check_digits():
    assert nhs_check_digit("943476591") == 9  # 943 476 5919, the NHS's own test number
    assert nhs_check_digit("401023213") == 7
    assert nhs_number("943476591") == "943 476 5919"


@pytest.mark.parametrize("stem", NHS_STEMS)
@pytest.mark.parametrize("separator", [" ", "-", "none"])
def test_nhs_numbers(stem, separator):
    number = nhs_number(stem, separator)
    assert found(f"NHS no. {number} on the referral") == [("nhs_number", number)]


@pytest.mark.parametrize("stem", NHS_STEMS)
def test_ten_digits_with_a_wrong_check_digit_are_not_an_nhs_number(stem):
    assert found(f"NHS no. {wrong_check_digit(nhs_number(stem))}") == []


def test_nine_digits_without_a_possible_check_digit_are_not_an_nhs_number():
    stem = "000000006"  # weighted sum 12, so 11 - 12 % 11 = 10: no digit can check it
    assert nhs_check_digit(stem) is None
    assert all(found(f"{stem}{digit}") == [] for digit in range(10))


# --- phone numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        "07700 900123",
        "07700900123",
        "07700 900 123",
        "07700-900-123",
        "+44 7700 900123",
        "+447700900123",
        "+44 (0)7700 900 123",
        "0161 496 0000",
        "(0161) 496 0018",
        "0161-496-0512",
        "020 7946 0000",
        "01632 960123",
        "0191 498 0000",
        "+44 161 496 0000",
    ],
)
def test_phone_numbers(number):
    assert found(f"call mum on {number} after 6") == [("phone", number)]


def test_a_count_after_a_phone_number_is_not_part_of_it():
    assert found("rang 07700 900123 20 times") == [("phone", "07700 900123")]


# --- e-mail --------------------------------------------------------------------------------------


def test_e_mail_addresses_are_found():
    text = "e-mail her at kerry1985@example.co.uk or k.smith+cp@example.com."
    assert found(text) == [
        ("email", "kerry1985@example.co.uk"),
        ("email", "k.smith+cp@example.com"),
    ]


def test_a_partnership_address_is_found_unless_allowed():
    text = "I sent Appendix 1 to bsp@bury.gov.uk and to kerry@example.com"
    assert found(text) == [("email", "bsp@bury.gov.uk"), ("email", "kerry@example.com")]
    assert found(text, allowed=("BSP@bury.gov.uk",)) == [("email", "kerry@example.com")]


def test_the_packs_contacts_are_the_allow_list(library):
    allowed = contact_emails(library)
    assert "bsp@bury.gov.uk" in allowed
    text = "Sent to BSP@bury.gov.uk; copy to dad at wayne.b@example.net"
    assert found(text, allowed=tuple(allowed)) == [("email", "wayne.b@example.net")]


# --- what must not be flagged --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "CSC closed the case and I disagree",
        "MASH NFA'd it on Monday",
        "I spoke to the DSL at Bury children about it",
        "spoke to the HV on Monday",
        "Level 2 with the Head of Service",
        "review on Friday 4/12",
        "case ref CSC-204518",
        "EH12345 is the early help reference",
        "Our reference is ESC-7K2P9Q",
        "South Tyneside said it is a Stage 3 matter",
        "She went to A&E twice last week",
        "meeting on 28/11/2026 at 10:30",
        "a 14 year old in year 9",
        "Mum and Dad were not invited to the strategy meeting",
        "Nan has been caring for the children since March",
        "The Social Worker and the GP disagree about the threshold",
        "Police attended at 23:15 and no arrests were made",
        "the LADO advised a Position of Trust meeting",
        "Adult Social Care declined the s42 enquiry on 3 December",
        "My line manager raised it with the Team Manager in CAMHS",
        "We escalated to the Business Manager at BSP",
        "the school nurse has seen him 3 times this term",
        "Warrington Safeguarding Adults Board procedure says 5 working days",
        "Cambridgeshire & Peterborough SAB escalation, stage 1 done",
        "The care home manager says the resident is safe",
        "Probation and the YOT want a professionals meeting",
        "I rang the 0-19 service twice and left messages",
        "The Independent Chair will review it in 10 working days",
        "There were 4 missed appointments between May and June",
        "Will the Head of Service respond by Wednesday?",
        "Grace period of 2 weeks was agreed with housing",
        "Amber rating on the RAG, not red",
        "Clare's Law disclosure was refused by police",
        "Sarah's Law application went to the police",
        "CP plan since April; core group on Tuesday 3rd at 2pm",
        "The baby is 6 months old and on a CIN plan",
        "The case is in the Family Court, hearing in 3 weeks",
        "Stage 2 Family Court hearing was adjourned",
        "We called the police and MASH the same day",
        "I called Adult Social Care on Monday and was told it was NFA",
        "Mum called Police and then called Early Help",
        "the Named Nurse for safeguarding is on leave",
        "St Mary's Hospital discharged him without a plan",
        "Royal Alexandra Hospital A&E saw her at 2am",
        "The Queen Elizabeth Hospital safeguarding team",
        "Florence Nightingale Ward discharged her",
        "We met at Alexandra Park",
        "It was discussed at the MARAC on 12/10/2025",
        "KS2 pupil, 2nd referral this year",
        "y9 2nd time excluded, ks4 3rd referral",
        "referral number 20231145 sent at 09:45",
        "Risk score 17 out of 24 on the DASH",
        "Section 47 enquiry started on 1 Nov",
        "S47 strategy on Tuesday 14:30, ICPC within 15 working days",
        "Year 11 pupil, attendance 62%",
        "Level 3 escalation to the Director of Children's Services",
        "He is an unborn baby due in January",
        "The YP said she felt safe at home",
        "Operation Encompass notification received at 8.30am",
        "Ofsted and the NSPCC were mentioned",
        "Barnardo's and Dr Barnardo's were involved",
        "page 4 of the Bury procedure, section 2.3",
        "Between 2019 and 2021 there were 12 referrals",
        "Her dad works nights and Dad's partner attended the core group",
        "mum OD'd, 2 kids in the house",
        "the dob wasn't recorded on the referral",
        "he was born prematurely and has complex needs",
        "Strategy discussion held at 14:00 on 4.12",
        "call Childline on 0800 1111 or the council on 0300 123 4567",
        "ring 101 or 999, or 111 for health",
        "Signs of Safety mapping with Early Help on 5/1/2027",
        "The Molly Rose Foundation resources were shared",
        "Teams meeting at 10am with Head of Year",
        "Jack and Will were both at the meeting",  # names that are also words are left out
        "May I ask for a review",
        "Miss School on Monday and it is a Section 47",
        "MS and diabetes; Dr appointment missed",
        "The partner agencies met in Warrington",
        "We followed the Multi-Agency Safeguarding Hub guidance",
        "I called CSC and the meeting called ICPC",
        "for the child, Early Help said no; Client Services agreed",
        (
            "Summary: Children's Services closed the referral after a single visit. The school "
            "DSL believes the threshold for a Child and Family Assessment is met. Evidence: 3 "
            "disclosures since September, attendance 71%, bruising noted by the PE teacher "
            "on 14/11."
        ),
        "Child Sexual Exploitation screening done; Complex Safeguarding Team involved",
        "The GP practice (Moss Bank Surgery) refuses to share records without consent",
        "Hospital discharge planning meeting at Salford Royal on Thursday at 11",
        "Her Key Worker at Turning Point says she is using again",
        "Mother is 17, baby 6 weeks, on a CP plan under neglect",
        "The IRO and the Children's Guardian disagree about the care plan",
    ],
)
def test_practitioner_text_without_personal_data(text):
    assert found(text) == []


def test_partnership_names_are_not_personal_data(library):
    for pack in library:
        for phrase in {pack.name, pack.short_name, *pack.aliases}:
            for written in {phrase, phrase.title()}:
                assert found(f"I escalated to {written} on Friday 4/12") == [], written


# --- the shape of the answer ---------------------------------------------------------------------

MIXED = (
    "Mum Kerry Smith (DOB 03/03/1990) of 12 Oak Road, Bury BL9 0EJ, tel 07700 900123, "
    f"NHS {nhs_number('943476591')}, e-mail kerry@example.com. CSC closed it at Level 2."
)


def test_findings_are_sorted_non_overlapping_offsets():
    findings = find_personal_data(MIXED, today=TODAY)
    assert [f.kind for f in findings] == [
        "name", "date_of_birth", "address", "phone", "nhs_number", "email"
    ]  # fmt: skip
    assert all(a.end <= b.start for a, b in zip(findings, findings[1:]))
    assert [field.name for field in dataclasses.fields(Finding)] == ["kind", "start", "end"]


def test_a_finding_holds_a_known_kind_and_a_real_span():
    with pytest.raises(ValueError):
        Finding("surname", 0, 3)
    with pytest.raises(ValueError):
        Finding("name", 3, 3)


def test_empty_text_has_nothing():
    assert find_personal_data("", today=TODAY) == []
    assert find_personal_data("   ", today=TODAY) == []


def test_redact_marks_what_to_retype():
    findings = find_personal_data(MIXED, today=TODAY)
    assert redact(MIXED, findings) == (
        "Mum [name removed] (DOB [date of birth removed]) of [address removed], "
        "tel [phone number removed], NHS [NHS number removed], "
        "e-mail [e-mail address removed]. CSC closed it at Level 2."
    )


def test_redact_leaves_text_without_findings_alone():
    assert redact("CSC closed it", []) == "CSC closed it"


def test_redact_refuses_overlapping_findings():
    with pytest.raises(ValueError):
        redact("Kerry Smith", [Finding("name", 0, 5), Finding("name", 3, 11)])


@pytest.mark.parametrize(
    "kinds, expected",
    [
        ([], "no personal data"),
        (["name"], "a name"),
        (["nhs_number", "name"], "a name and an NHS number"),
        (["name", "name", "address"], "two names and an address"),
        (
            ["email", "phone", "date_of_birth"],
            "a date of birth, a phone number and an e-mail address",
        ),
        (["address"] * 12, "12 addresses"),
    ],
)
def test_describe(kinds, expected):
    findings = [Finding(kind, index, index + 1) for index, kind in enumerate(kinds)]
    assert describe(findings) == expected


def test_describe_the_mixed_message():
    assert describe(find_personal_data(MIXED, today=TODAY)) == (
        "a name, a date of birth, an address, an NHS number, a phone number and an e-mail address"
    )


# --- the list of first names ---------------------------------------------------------------------

LEFT_OUT = {
    "will", "may", "june", "april", "grace", "hope", "faith", "joy", "rose", "mark", "bill",
    "sue", "pat", "dawn", "carol", "rob", "jack", "bury", "warrington", "chase", "lane", "bob",
    "art", "victoria", "amber", "summer", "august", "frank", "chelsea", "leigh", "stanley",
}  # fmt: skip


def test_first_names_list():
    lines = [
        line for line in Path(FIRST_NAMES_FILE).read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert 550 <= len(lines) <= 700
    assert len(set(lines)) == len(lines)
    assert all(line == line.strip().lower() and line.replace("-", "").isalpha() for line in lines)
    assert not LEFT_OUT & set(lines)
    assert {"tyler", "kerry", "ben", "mohammed", "olivia", "kacper", "aisha"} <= set(lines)


def test_kinds():
    assert KINDS == ("name", "date_of_birth", "address", "nhs_number", "phone", "email")
