"""DICOM de-identification: PS3.15 Annex E Basic Profile with two options, consistent UID remapping, pseudonym map.

Profile and options
-------------------
* **Basic Application Level Confidentiality Profile** (PS3.15 E.2, Table E.1-1): every attribute of
  :data:`BASIC_PROFILE` gets its action — ``X`` remove, ``Z`` empty, ``D`` dummy value, ``U`` new UID — and all
  private attributes, curves (50xx) and overlay comments are removed.
* **Retain Longitudinal Temporal Information with Modified Dates Option** (E.3.6): every date (DA) and the
  date part of every date-time (DT), in sequences too, is shifted by the same whole number of days per patient;
  times are kept. Intervals within a patient (injection → scan for SUV decay, baseline → follow-up) are
  preserved exactly.
* **Retain Patient Characteristics Option** (E.3.5): sex, age, size, weight, ethnic group, smoking and pregnancy
  status are kept, so PET SUV (body weight, lean body mass) is computable after de-identification.

UIDs are replaced by ``2.25.<UUIDv5(key, original UID)>`` (PS3.5 B.2): the same original UID gives the same new
UID in every file and every run with the same ``key``, so references between images, SEG and SR stay
resolvable. DICOM-defined UIDs (``1.2.840.10008.*``: SOP classes, transfer syntaxes) and coding-scheme UIDs are
kept. Patient ID and name become a pseudonym derived from the key; the mapping from original to pseudonym
(with the date shift) is written to a CSV meant to be kept apart from the data. Files with burned-in annotation
or recognisable visual features (``BurnedInAnnotation``/``RecognizableVisualFeatures`` = ``YES``) are flagged
and not copied, since pixel data are not cleaned.

Reference: DICOM PS3.15 (2024) Annex E "Attribute Confidentiality Profiles", Table E.1-1 and E.3.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from os import PathLike
from pathlib import Path

from imagebio.errors import InvalidParameterError

__all__ = [
    "BASIC_PROFILE",
    "RETAINED_PATIENT_CHARACTERISTICS",
    "Deidentifier",
    "DeidentifyResult",
    "deidentify_files",
    "deidentify_folder",
]

#: PS3.15 Table E.1-1, Basic Profile column (keyword -> action). Where the table gives a choice (X/Z, X/D,
#: Z/D, X/Z/D) the strictest action allowed for the attribute's type is used. Dates and times are handled by
#: the Retain Longitudinal Temporal Information option (shifted), UIDs by remapping, so they are not listed.
BASIC_PROFILE: dict[str, str] = {
    "AccessionNumber": "Z",
    "AcquisitionComments": "X",
    "AcquisitionContextSequence": "Z",  # Type 2 in Parametric Map and enhanced IODs
    "AcquisitionDeviceProcessingDescription": "X",
    "AcquisitionProtocolDescription": "X",
    "ActualHumanPerformersSequence": "X",
    "AdditionalPatientHistory": "X",
    "AdmissionID": "X",
    "AdmittingDiagnosesCodeSequence": "X",
    "AdmittingDiagnosesDescription": "X",
    "Allergies": "X",
    "Arbitrary": "X",
    "AuthorObserverSequence": "X",
    "BranchOfService": "X",
    "CassetteID": "X",
    "CommentsOnThePerformedProcedureStep": "X",
    "ConfidentialityConstraintOnPatientDataDescription": "X",
    "ContentCreatorName": "Z",
    "ContentCreatorIdentificationCodeSequence": "X",
    "ContributionDescription": "X",
    "CountryOfResidence": "X",
    "CurrentPatientLocation": "X",
    "CustodialOrganizationSequence": "X",
    "DataSetTrailingPadding": "X",
    "DerivationDescription": "X",
    "DetectorID": "X",
    "DeviceSerialNumber": "D",  # Type 1 in the Enhanced General Equipment module (SEG, SR, maps)
    "DigitalSignaturesSequence": "X",
    "DischargeDiagnosisDescription": "X",
    "DistributionAddress": "X",
    "DistributionName": "X",
    "EthnicGroup": "X",
    "FrameComments": "X",
    "GantryID": "X",
    "GeneratorID": "X",
    "HumanPerformerName": "X",
    "HumanPerformerOrganization": "X",
    "IconImageSequence": "X",
    "IdentifyingComments": "X",
    "ImageComments": "X",
    "ImagePresentationComments": "X",
    "ImagingServiceRequestComments": "X",
    "Impressions": "X",
    "InstitutionAddress": "X",
    "InstitutionCodeSequence": "X",
    "InstitutionName": "X",
    "InstitutionalDepartmentName": "X",
    "InsurancePlanIdentification": "X",
    "IntendedRecipientsOfResultsIdentificationSequence": "X",
    "InterpretationApproverSequence": "X",
    "InterpretationAuthor": "X",
    "InterpretationDiagnosisDescription": "X",
    "InterpretationIDIssuer": "X",
    "InterpretationRecorder": "X",
    "InterpretationText": "X",
    "InterpretationTranscriber": "X",
    "IssuerOfAdmissionID": "X",
    "IssuerOfPatientID": "X",
    "IssuerOfServiceEpisodeID": "X",
    "MedicalAlerts": "X",
    "MedicalRecordLocator": "X",
    "MilitaryRank": "X",
    "ModifiedAttributesSequence": "X",
    "ModifiedImageDescription": "X",
    "ModifyingDeviceID": "X",
    "NameOfPhysiciansReadingStudy": "X",
    "NamesOfIntendedRecipientsOfResults": "X",
    "Occupation": "X",
    "OperatorIdentificationSequence": "X",
    "OperatorsName": "X",
    "OrderCallbackPhoneNumber": "X",
    "OrderEnteredBy": "X",
    "OrderEntererLocation": "X",
    "OriginalAttributesSequence": "X",
    "OtherPatientIDsSequence": "X",
    "OtherPatientNames": "X",
    "ParticipantSequence": "X",
    "PatientAddress": "X",
    "PatientAge": "X",
    "PatientBirthDate": "Z",
    "PatientBirthName": "X",
    "PatientBirthTime": "X",
    "PatientComments": "X",
    "PatientID": "Z",
    "PatientInstitutionResidence": "X",
    "PatientInsurancePlanCodeSequence": "X",
    "PatientMotherBirthName": "X",
    "PatientName": "Z",
    "PatientPrimaryLanguageCodeSequence": "X",
    "PatientPrimaryLanguageModifierCodeSequence": "X",
    "PatientReligiousPreference": "X",
    "PatientSex": "Z",
    "PatientSexNeutered": "X",
    "PatientSize": "X",
    "PatientState": "X",
    "PatientTelephoneNumbers": "X",
    "PatientTransportArrangements": "X",
    "PatientWeight": "X",
    "PerformedLocation": "X",
    "PerformedProcedureStepDescription": "X",
    "PerformedProcedureStepID": "X",
    "PerformingPhysicianIdentificationSequence": "X",
    "PerformingPhysicianName": "X",
    "PersonAddress": "X",
    "PersonIdentificationCodeSequence": "X",
    "PersonName": "D",
    "PersonTelephoneNumbers": "X",
    "PhysicianApprovingInterpretation": "X",
    "PhysiciansOfRecord": "X",
    "PhysiciansOfRecordIdentificationSequence": "X",
    "PhysiciansReadingStudyIdentificationSequence": "X",
    "PlateID": "X",
    "PreMedication": "X",
    "PregnancyStatus": "X",
    "ProtocolName": "X",
    "ReasonForStudy": "X",
    "ReasonForTheImagingServiceRequest": "X",
    "ReferencedDigitalSignatureSequence": "X",
    "ReferencedPatientAliasSequence": "X",
    "ReferencedPatientSequence": "X",
    "ReferencedPerformedProcedureStepSequence": "Z",  # Type 2 in the SR Document Series module
    "ReferencedSOPInstanceMACSequence": "X",
    "ReferencedStudySequence": "X",
    "ReferringPhysicianAddress": "X",
    "ReferringPhysicianIdentificationSequence": "X",
    "ReferringPhysicianName": "Z",
    "ReferringPhysicianTelephoneNumbers": "X",
    "RegionOfResidence": "X",
    "RequestAttributesSequence": "X",
    "RequestedContrastAgent": "X",
    "RequestedProcedureComments": "X",
    "RequestedProcedureDescription": "X",
    "RequestedProcedureID": "X",
    "RequestedProcedureLocation": "X",
    "RequestingPhysician": "X",
    "RequestingService": "X",
    "ResponsibleOrganization": "X",
    "ResponsiblePerson": "X",
    "ResultsComments": "X",
    "ResultsDistributionListSequence": "X",
    "ResultsIDIssuer": "X",
    "ScheduledHumanPerformersSequence": "X",
    "ScheduledPatientInstitutionResidence": "X",
    "ScheduledPerformingPhysicianIdentificationSequence": "X",
    "ScheduledPerformingPhysicianName": "X",
    "ScheduledProcedureStepDescription": "X",
    "ScheduledProcedureStepLocation": "X",
    "ScheduledStationAETitle": "X",
    "ScheduledStationGeographicLocationCodeSequence": "X",
    "ScheduledStationName": "X",
    "ScheduledStationNameCodeSequence": "X",
    "ScheduledStudyLocation": "X",
    "ScheduledStudyLocationAETitle": "X",
    "SeriesDescription": "X",
    "ServiceEpisodeDescription": "X",
    "ServiceEpisodeID": "X",
    "SmokingStatus": "X",
    "SourceApplicationEntityTitle": "X",
    "SpecialNeeds": "X",
    "StationName": "X",
    "StudyComments": "X",
    "StudyDescription": "X",
    "StudyID": "Z",
    "StudyIDIssuer": "X",
    "TextComments": "X",
    "TextString": "X",
    "TopicAuthor": "X",
    "TopicKeywords": "X",
    "TopicSubject": "X",
    "TopicTitle": "X",
    "VerifyingObserverIdentificationCodeSequence": "Z",
    "VerifyingObserverName": "D",
    "VerifyingOrganization": "X",
    "VisitComments": "X",
}

#: Retain Patient Characteristics Option (PS3.15 E.3.5): kept as they are.
RETAINED_PATIENT_CHARACTERISTICS = frozenset(
    {"PatientAge", "PatientSex", "PatientSize", "PatientWeight", "EthnicGroup", "SmokingStatus", "PregnancyStatus",
     "PatientSexNeutered"}
)

#: UIDs that identify standards, not patients or instances.
_KEPT_UID_KEYWORDS = frozenset(
    {"CodingSchemeUID", "ContextUID", "MappingResourceUID", "TransferSyntaxUID", "SOPClassUID",
     "ReferencedSOPClassUID", "MediaStorageSOPClassUID", "ImplementationClassUID", "ReferencedSOPClassUIDInFile",
     "ReferencedTransferSyntaxUIDInFile", "RelatedGeneralSOPClassUID", "OriginalSpecializedSOPClassUID"}
)
_DICOM_ROOT = "1.2.840.10008."
#: SR TEXT items that are machine-written labels, not free text: Tracking Identifier, Time Point, Algorithm
#: Name and Version. Other SR text (Basic Profile: Text Value X) is replaced by a dummy so that the Type 1C
#: TextValue of the TEXT item, hence the document, stays valid.
_KEPT_TEXT_CONCEPTS = frozenset(
    {("112039", "DCM"), ("C2348792", "UMLS"), ("111001", "DCM"), ("111003", "DCM")}
)
_DUMMY_PERSON = "ANONYMOUS"

#: DeidentificationMethod values (LO, at most 64 characters each).
_METHOD = ["PS3.15 E Basic Profile (imagebio)", "Retain Longitudinal Temporal Modified Dates",
           "Retain Patient Characteristics"]
_METHOD_CODES = (
    ("113100", "Basic Application Confidentiality Profile"),
    ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
    ("113108", "Retain Patient Characteristics Option"),
)

MAP_COLUMNS = ("original_patient_id", "pseudonym", "date_shift_days", "original_study_uid", "new_study_uid")


@dataclasses.dataclass
class DeidentifyResult:
    """Files written, files skipped (not DICOM) and files flagged (burned-in annotation), and the map file."""

    written: list[Path] = dataclasses.field(default_factory=list)
    skipped: list[Path] = dataclasses.field(default_factory=list)
    flagged: list[tuple[Path, str]] = dataclasses.field(default_factory=list)
    map_path: Path | None = None
    pseudonyms: dict[str, str] = dataclasses.field(default_factory=dict)


class Deidentifier:
    """Applies the profile to datasets with one key; keeps the pseudonym and UID maps of everything it saw.

    Parameters
    ----------
    key : str
        Secret that makes pseudonyms, date shifts and UIDs reproducible (same key → same outputs). Keep it with
        the map file, apart from the data.
    pseudonym_prefix : str
        Pseudonyms are ``<prefix><10 hex digits>``.
    max_shift_days : int
        Dates move back by 1 to ``max_shift_days`` days (per patient, from the key).
    """

    def __init__(self, key: str, pseudonym_prefix: str = "ANON-", max_shift_days: int = 3650) -> None:
        if not key:
            raise InvalidParameterError("key", key, "a non-empty secret string")
        if max_shift_days < 1:
            raise InvalidParameterError("max_shift_days", max_shift_days, "at least 1")
        self._namespace = uuid.uuid5(uuid.NAMESPACE_OID, f"imagebio-deidentify/{key}")
        self._key = key
        self.prefix = pseudonym_prefix
        self.max_shift_days = max_shift_days
        self.studies: dict[str, tuple[str, str]] = {}  # original study uid -> (original patient id, new uid)

    def _digest(self, *parts: str) -> str:
        return hashlib.sha256("/".join((self._key, *parts)).encode()).hexdigest()

    def pseudonym(self, patient_id: str) -> str:
        """The pseudonym of a PatientID (deterministic for the key)."""
        return f"{self.prefix}{self._digest('patient', patient_id)[:10].upper()}"

    def date_shift_days(self, patient_id: str) -> int:
        """Days added to every date of the patient (negative: dates move back)."""
        return -(1 + int(self._digest("shift", patient_id), 16) % self.max_shift_days)

    def new_uid(self, uid: str) -> str:
        """The replacement of a UID (deterministic for the key)."""
        return f"2.25.{uuid.uuid5(self._namespace, uid).int}"

    def apply(self, ds) -> None:
        """De-identify ``ds`` in place (file meta included)."""
        from pydicom.dataset import Dataset

        patient_id = str(ds.get("PatientID", "") or "")
        shift = timedelta(days=self.date_shift_days(patient_id))
        study_uid = str(ds.get("StudyInstanceUID", "") or "")
        self._clean(ds, shift)
        if study_uid:
            self.studies.setdefault(study_uid, (patient_id, self.new_uid(study_uid)))
        pseudonym = self.pseudonym(patient_id)
        ds.PatientID = pseudonym
        ds.PatientName = pseudonym
        ds.PatientIdentityRemoved = "YES"
        ds.LongitudinalTemporalInformationModified = "MODIFIED"
        ds.DeidentificationMethod = _METHOD
        codes = []
        for value, meaning in _METHOD_CODES:
            item = Dataset()
            item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
            codes.append(item)
        ds.DeidentificationMethodCodeSequence = codes
        meta = getattr(ds, "file_meta", None)
        if meta is not None:
            if "MediaStorageSOPInstanceUID" in meta and "SOPInstanceUID" in ds:
                meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            if "SourceApplicationEntityTitle" in meta:
                del meta.SourceApplicationEntityTitle

    def _clean(self, ds, shift: timedelta) -> None:
        ds.remove_private_tags()
        for element in list(ds):
            tag = element.tag
            if tag.group & 0xFF00 == 0x5000 or (tag.group & 0xFF00 == 0x6000 and tag.element == 0x4000):
                del ds[tag]  # curves, overlay comments
                continue
            keyword = element.keyword
            action = BASIC_PROFILE.get(keyword)
            if keyword in RETAINED_PATIENT_CHARACTERISTICS:
                action = "K"
            if action == "X":
                del ds[tag]
                continue
            if action == "Z":
                element.value = None if element.VR != "SQ" else []
                continue
            if action == "D":
                element.value = _dummy(element.VR)
                continue
            if element.VR == "SQ":
                for item in element.value:
                    self._clean(item, shift)
                continue
            if element.VR == "UI":
                element.value = self._remap(keyword, element.value)
            elif element.VR == "DA":
                element.value = _shift_values(element.value, shift, _shift_da)
            elif element.VR == "DT":
                element.value = _shift_values(element.value, shift, _shift_dt)
            elif keyword == "TextValue" and not _is_kept_text(ds):
                element.value = _dummy("UT")  # free SR text (Basic Profile X) cannot be checked for PHI

    def _remap(self, keyword: str, value):
        if keyword in _KEPT_UID_KEYWORDS or value in (None, ""):
            return value
        if isinstance(value, (list, tuple)) or hasattr(value, "__iter__") and not isinstance(value, str):
            return [self._remap(keyword, v) for v in value]
        text = str(value)
        return text if text.startswith(_DICOM_ROOT) else self.new_uid(text)

    def map_rows(self) -> list[dict[str, object]]:
        """One row per original study seen: patient, pseudonym, date shift, original and new study UID."""
        rows = []
        for study_uid, (patient_id, new_uid) in sorted(self.studies.items(), key=lambda kv: (kv[1][0], kv[0])):
            rows.append(
                {
                    "original_patient_id": patient_id,
                    "pseudonym": self.pseudonym(patient_id),
                    "date_shift_days": self.date_shift_days(patient_id),
                    "original_study_uid": study_uid,
                    "new_study_uid": new_uid,
                }
            )
        return rows


def _dummy(vr: str):
    """A dummy value of a VR for the ``D`` action (a non-empty value, as Type 1 attributes need)."""
    if vr == "PN":
        return _DUMMY_PERSON
    if vr in ("LO", "SH", "CS", "LT", "ST", "UT", "UC"):
        return "ANONYMIZED"
    return None


def _is_kept_text(item) -> bool:
    names = item.get("ConceptNameCodeSequence")
    if not names:
        return False
    code = names[0]
    return (str(code.get("CodeValue", "")), str(code.get("CodingSchemeDesignator", ""))) in _KEPT_TEXT_CONCEPTS


def _shift_values(value, shift: timedelta, one: Callable[[str, timedelta], str]):
    if value in (None, ""):
        return value
    if isinstance(value, str):
        return one(value, shift)
    return [one(str(v), shift) for v in value]


def _shift_da(text: str, shift: timedelta) -> str:
    text = str(text).strip()
    if len(text) != 8 or not text.isdigit():
        return ""  # unparseable dates are removed rather than kept
    return (datetime.strptime(text, "%Y%m%d") + shift).strftime("%Y%m%d")


def _shift_dt(text: str, shift: timedelta) -> str:
    text = str(text).strip()
    if len(text) < 8 or not text[:8].isdigit():
        return ""
    return _shift_da(text[:8], shift) + text[8:]


def _is_flagged(ds) -> str | None:
    for keyword in ("BurnedInAnnotation", "RecognizableVisualFeatures"):
        if str(ds.get(keyword, "")).upper() == "YES":
            return f"{keyword} = YES (pixel data may show identifying text or features; not cleaned)"
    return None


def _output_path(ds, out_dir: Path) -> Path:
    modality = str(ds.get("Modality", "") or "OT")
    series_uid = str(ds.get("SeriesInstanceUID", "") or "series")
    study_uid = str(ds.get("StudyInstanceUID", "") or "study")
    study_date = str(ds.get("StudyDate", "") or "nodate")
    return (
        out_dir / str(ds.PatientID) / f"{study_date}_{study_uid[-8:]}" / f"{modality}_{series_uid[-8:]}"
        / f"{ds.SOPInstanceUID}.dcm"
    )


def deidentify_folder(
    in_dir: str | PathLike,
    out_dir: str | PathLike,
    key: str,
    map_path: str | PathLike | None = None,
    allow_flagged: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> DeidentifyResult:
    """De-identify every DICOM file under ``in_dir`` into ``out_dir`` (``<pseudonym>/<study>/<series>/<SOP>.dcm``).

    Parameters
    ----------
    in_dir, out_dir : path
        Input folder (searched recursively) and output folder (must not be inside the input).
    key : str
        Secret for pseudonyms, date shifts and UIDs (see :class:`Deidentifier`).
    map_path : path, optional
        CSV of :data:`MAP_COLUMNS` (original → pseudonym, date shift, study UIDs); rows of an existing file are
        kept. Store it apart from ``out_dir``; inside ``out_dir`` is refused.
    allow_flagged : bool
        Copy files flagged for burned-in annotation too (still listed in ``flagged``).

    Raises
    ------
    InvalidParameterError
        Missing input folder, output inside input, map file inside the output.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    in_dir, out_dir = Path(in_dir).resolve(), Path(out_dir).resolve()
    if not in_dir.is_dir():
        raise InvalidParameterError("in_dir", str(in_dir), "an existing folder of DICOM files")
    if out_dir == in_dir or in_dir in out_dir.parents:
        raise InvalidParameterError("out_dir", str(out_dir), f"a folder outside the input {in_dir}")
    if map_path is not None:
        map_path = Path(map_path).resolve()
        if out_dir in map_path.parents:
            raise InvalidParameterError(
                "map_path", str(map_path), "a file outside the de-identified output (the map re-identifies it)"
            )
    deid = Deidentifier(key)
    result = DeidentifyResult(map_path=map_path)
    files = sorted(p for p in in_dir.rglob("*") if p.is_file())
    for index, path in enumerate(files, start=1):
        try:
            ds = pydicom.dcmread(path)
        except (InvalidDicomError, OSError, ValueError, EOFError):
            result.skipped.append(path)
            continue
        reason = _is_flagged(ds)
        if reason:
            result.flagged.append((path, reason))
            if not allow_flagged:
                continue
        original = str(ds.get("PatientID", "") or "")
        deid.apply(ds)
        result.pseudonyms[original] = str(ds.PatientID)
        target = _output_path(ds, out_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(target, enforce_file_format=True)
        result.written.append(target)
        if progress is not None:
            progress(index, len(files))
    if map_path is not None:
        _write_map(map_path, deid.map_rows())
    return result


def deidentify_files(paths: Iterable[str | PathLike], key: str) -> dict[str, str]:
    """De-identify DICOM files in place with ``key`` (e.g. exports), returning original → pseudonym PatientIDs.

    With the key used for :func:`deidentify_folder` on the source images, UIDs map identically, so a
    de-identified SR/SEG/map still references the de-identified images.
    """
    import pydicom

    deid = Deidentifier(key)
    pseudonyms = {}
    for path in paths:
        ds = pydicom.dcmread(path)
        original = str(ds.get("PatientID", "") or "")
        deid.apply(ds)
        pseudonyms[original] = str(ds.PatientID)
        ds.save_as(path, enforce_file_format=True)
    return pseudonyms


def _write_map(path: Path, rows: Iterable[dict[str, object]]) -> None:
    existing: dict[str, dict[str, object]] = {}
    if path.exists():
        with open(path, newline="") as handle:
            for row in csv.DictReader(handle):
                existing[row["original_study_uid"]] = row
    for row in rows:
        existing[str(row["original_study_uid"])] = row
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(MAP_COLUMNS))
        writer.writeheader()
        writer.writerows(existing.values())
