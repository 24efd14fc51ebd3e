"""Reading and writing clinical images and masks (DICOM, PET/NM, SEG, RTSTRUCT, NIfTI, NRRD)."""
