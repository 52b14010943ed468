#!/usr/bin/python3
"""Makes the benchmark workload (not part of deidtk; needs pydicom, numpy, Pillow).

  make-workload.py OUTDIR N TEXTFREE_SRC [SCALE_N]

OUTDIR/tags/      N distinct CT instances: copies of samples/IM0022.dcm and pydicom's
                  CT_small.dcm, alternating, each with its own SOP Instance UID and
                  Instance Number (the tag-path workload).
OUTDIR/ct512/     N distinct copies of TEXTFREE_SRC, a plain 512x512 CT slice (about 1 GB
                  for N=2000): the tag path on the size of file a CT scanner writes.
OUTDIR/textfree/  max(50, N/10) text-free 512x512 CT frames: TEXTFREE_SRC (pydicom's
                  693_J2KI.dcm decompressed by the harness) and CT_small resampled to
                  512x512, alternating (the OCR cost on frames without text).
OUTDIR/text/      max(10, N/50) 512x512 CT frames with burned-in annotation text in the
                  corners, in varied fonts and sizes, plus copies of IM0022.dcm (text-bearing
                  frames for detect+read vs whole-frame Tesseract).
OUTDIR/speckle/   max(20, N/100) text-free ultrasound-like frames: synthetic B-mode speckle
                  (complex Gaussian noise low-passed by an elliptical point spread, its
                  envelope log-compressed over a 40-70 dB dynamic range), grains 2-10 px
                  wide and 1-4 px tall, in a sector or a linear field, with brighter and
                  darker regions of tissue; nothing else (the detector's false boxes on
                  the texture that ultrasound images are made of).
OUTDIR/scale/     SCALE_N files (only when given), as tags/ but ten a patient, each patient
                  with its own study and series, in folders of 100 (d0000/, d0001/, ...):
                  the first k folders are the same kind of work as all of them, so the
                  time per file over both shows whether a run's cost grows with its length.
"""
import os
import random
import sys

import numpy as np
import pydicom
from PIL import Image, ImageDraw, ImageFont

HERE = os.path.dirname(os.path.abspath(__file__))
IM0022 = os.path.join(HERE, "..", "samples", "IM0022.dcm")
CT_SMALL = "/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm"
FONTS = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
]

rng = random.Random(20261125)


def new_uid():
    return "2.25.%d" % rng.getrandbits(122)


def distinct(ds, number):
    uid = new_uid()
    ds.SOPInstanceUID = uid
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.InstanceNumber = number
    return ds


def scale_set(outdir, n, srcs):
    patient = None
    for i in range(n):
        ds = distinct(srcs[i % 2], i + 1)
        if i % 10 == 0:
            patient = ("SCALE%06d" % (i // 10), "DOE^SCALE%d" % (i // 10), new_uid(), new_uid())
        ds.PatientID, ds.PatientName, ds.StudyInstanceUID, ds.SeriesInstanceUID = patient
        d = os.path.join(outdir, "scale", "d%04d" % (i // 100))
        os.makedirs(d, exist_ok=True)
        ds.save_as(os.path.join(d, "f%06d.dcm" % i), write_like_original=True)


def resample_512(ds):
    """CT_small (128x128) to 512x512, bilinear, same stored-value range."""
    a = ds.pixel_array.astype(np.float32)
    img = Image.fromarray(a, mode="F").resize((512, 512), Image.BILINEAR)
    out = np.asarray(img).round().astype(a.dtype if ds.PixelRepresentation == 0 else np.int16)
    ds.Rows, ds.Columns = 512, 512
    if "PixelSpacing" in ds:
        ds.PixelSpacing = [float(v) / 4 for v in ds.PixelSpacing]
    ds.PixelData = out.astype("<i2" if ds.PixelRepresentation else "<u2").tobytes()
    return ds


def burn_text(ds, i):
    """Burns four corner annotations into a 16-bit frame, as a scanner console would."""
    a = ds.pixel_array.astype(np.int32)
    h, w = a.shape
    mask = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(mask)
    font = ImageFont.truetype(FONTS[i % len(FONTS)], 12 + (i * 3) % 9)
    lines = [
        "DOE^JANE%d" % i, "MRN %07d" % (1000000 + i * 7919),
        "b. 19%02d-0%d-1%d" % (40 + i % 50, 1 + i % 9, i % 10),
        "St. Elsewhere Hosp.", "Acq 0%d/1%d/2016" % (1 + i % 9, i % 10),
        "120 kVp / %d mAs" % (100 + i), "C 40 / W 400", "Series %d" % (i % 7 + 1),
    ]
    asc, desc = font.getmetrics()
    lh = asc + desc + 2
    draw.text((6, 6), lines[0], fill=255, font=font)
    draw.text((6, 6 + lh), lines[1], fill=255, font=font)
    tw = draw.textlength(lines[2], font=font)
    draw.text((w - 6 - tw, 6), lines[2], fill=255, font=font)
    tw = draw.textlength(lines[3], font=font)
    draw.text((w - 6 - tw, 6 + lh), lines[3], fill=255, font=font)
    draw.text((6, h - 6 - 2 * lh), lines[5], fill=255, font=font)
    draw.text((6, h - 6 - lh), lines[6], fill=255, font=font)
    tw = draw.textlength(lines[4], font=font)
    draw.text((w - 6 - tw, h - 6 - lh), lines[4], fill=255, font=font)
    m = np.asarray(mask) > 127
    a[m] = int(a.max())
    dtype = "<i2" if ds.PixelRepresentation else "<u2"
    ds.PixelData = a.astype(dtype).tobytes()
    return ds


def speckle_frame(gen, uid):
    """One text-free synthetic B-mode frame as an 8-bit secondary capture."""
    w, h = [(640, 480), (800, 600), (1024, 768), (640, 512)][gen.integers(4)]
    lateral, axial, dyn = gen.uniform(2, 10), gen.uniform(1.2, 4), gen.uniform(40, 70)
    yy, xx = np.mgrid[0:h, 0:w]
    if gen.random() < 0.6:
        angle, radius = np.arctan2(xx - w / 2, yy - 30), np.hypot(xx - w / 2, yy - 30)
        field = (np.abs(angle) < gen.uniform(0.4, 0.8)) & (radius > 20) & (radius < h - 40)
    else:
        field = (xx > w * 0.2) & (xx < w * 0.8) & (yy > 50) & (yy < h - 30)
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]
    psf = np.exp(-((fx * lateral) ** 2 + (fy * axial) ** 2) * 20)
    tissue = 0.5 + 0.5 * gen.random() * np.sin(xx / gen.uniform(30, 120) + gen.random() * 6) \
        * np.cos(yy / gen.uniform(30, 120))
    for _ in range(gen.integers(0, 4)):
        cx, cy, a, b = gen.uniform(0, w), gen.uniform(0, h), gen.uniform(10, 90), gen.uniform(8, 40)
        tissue[((xx - cx) / a) ** 2 + ((yy - cy) / b) ** 2 < 1] = gen.uniform(0.02, 2.5)
    z = gen.normal(size=(h, w)) + 1j * gen.normal(size=(h, w))
    env = np.abs(np.fft.ifft2(np.fft.fft2(z) * psf))
    env = env / env.mean() * tissue
    db = 20 * np.log10(np.maximum(env, 1e-6) / np.percentile(env, 99.5))
    grey = 255 * (1 + db / dyn) * gen.uniform(0.8, 1.05)
    a = np.zeros((h, w), np.uint8)
    a[field] = np.clip(grey[field], 0, 255).astype(np.uint8)
    meta = pydicom.dataset.FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = uid
    meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds = pydicom.dataset.FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, uid
    ds.StudyInstanceUID, ds.SeriesInstanceUID = new_uid(), new_uid()
    ds.Modality, ds.ConversionType = "US", "WSD"
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = h, w
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = a.tobytes()
    return ds


def main():
    outdir, n, textfree_src = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    scale_n = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    for sub in ("tags", "ct512", "textfree", "text", "speckle"):
        os.makedirs(os.path.join(outdir, sub), exist_ok=True)

    srcs = [pydicom.dcmread(IM0022), pydicom.dcmread(CT_SMALL)]
    for i in range(n):
        ds = distinct(srcs[i % 2], i + 1)
        ds.save_as(os.path.join(outdir, "tags", "f%05d.dcm" % i), write_like_original=True)
    if scale_n:
        scale_set(outdir, scale_n, srcs)

    ct = pydicom.dcmread(textfree_src)
    for i in range(n):
        distinct(ct, i + 1).save_as(os.path.join(outdir, "ct512", "f%05d.dcm" % i),
                                    write_like_original=True)

    free = [pydicom.dcmread(textfree_src), resample_512(pydicom.dcmread(CT_SMALL))]
    for i in range(max(50, n // 10)):
        ds = distinct(free[i % 2], i + 1)
        ds.save_as(os.path.join(outdir, "textfree", "f%05d.dcm" % i), write_like_original=True)

    k = max(10, n // 50)
    for i in range(k):
        if i % 4 == 3:
            ds = pydicom.dcmread(IM0022)
        elif i % 2:
            ds = burn_text(pydicom.dcmread(textfree_src), i)
        else:
            ds = burn_text(resample_512(pydicom.dcmread(CT_SMALL)), i)
        distinct(ds, i + 1)
        ds.save_as(os.path.join(outdir, "text", "f%05d.dcm" % i), write_like_original=True)

    gen = np.random.default_rng(20261125)
    for i in range(max(20, n // 100)):
        speckle_frame(gen, new_uid()).save_as(os.path.join(outdir, "speckle", "f%05d.dcm" % i),
                                              write_like_original=False)


if __name__ == "__main__":
    main()
