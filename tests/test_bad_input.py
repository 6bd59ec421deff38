"""Every case of the README's "Bad input" table, run as a user meets it.

The test reads the table from README.md: each row's case must be one of CASES below, and a
message in backticks must be exactly the error that case raises (paths are relative to the
folder the user works in). A row without backticks is a case handled without an error, and
its function checks that behaviour instead.
"""
import gzip
import re
from argparse import Namespace
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn

import score
from conftest import ROOT, raw_frame
from mdl import ClippedRidgeCV
from preprocess import preprocess, split_columns, write_features
from score import read_actual, read_predicted, score_table
from train import input_fn, model_fn, save_model, train

RAW = "data/public/public.csv.gz"
FEATURES = "data/preprocess/public.csv"
PREDICTED = "data/predictions/public.csv.out"


def readme_cases():
    """(case, message or None) for each row of the README's Bad input table."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Bad input\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")][2:]
    cases = []
    for row in rows:
        case, _, outcome = [cell.strip() for cell in row.strip("|").split(" | ")]
        exact = re.fullmatch(r"`(.+)`", outcome)
        cases.append((case, exact.group(1) if exact else None))
    return cases


def error(call, *args, kind=ValueError, **kwargs):
    with pytest.raises(kind) as raised:
        call(*args, **kwargs)
    return str(raised.value)


def write_raw(frame, path=RAW, **kwargs):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, **kwargs)
    return path


def write_text(text, path=RAW, encoding="utf-8"):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding=encoding) if path.endswith(".gz") else open(
        path, "w", encoding=encoding
    ) as out:
        out.write(text)
    return path


def with_cell(row, column, value, frame=None):
    frame = (raw_frame(rows=6, channels=400) if frame is None else frame).astype(object)
    frame.iloc[row, column] = value
    return frame


def run_preprocess():
    return write_features(RAW, FEATURES)


def run_train():
    return train(Namespace(data_dir=Path(RAW).parent, model_dir=Path("model")))


def trained_model():
    raw = raw_frame(rows=20, channels=400)
    data = preprocess(raw)
    _, _, targets = split_columns(data.columns)
    model = ClippedRidgeCV().fit(data.drop(columns=targets), data[targets])
    save_model(model, "model")
    return model, data


def served(body):
    """What the model server does with a text/csv body: input_fn, then predict."""
    model, _ = trained_model()
    return model.predict(input_fn(body, "text/csv"))


def write_pair(lines, actual=None):
    actual = raw_frame(rows=3, channels=400) if actual is None else actual
    write_raw(actual)
    write_text("".join(line + "\n" for line in lines), PREDICTED)
    return read_actual(RAW), lambda: score_table(read_actual(RAW), read_predicted(PREDICTED))


def score_error(lines):
    """The error score.py exits with, after `error: `."""
    write_pair(lines)
    with pytest.raises(SystemExit) as exited:
        score.main(["--actual", RAW, "--predicted", PREDICTED, "--output", "score.txt"])
    assert not Path("score.txt").exists()
    return exited.value.code.removeprefix("error: ")


# ---- the cases ------------------------------------------------------------------------------
def empty_file():
    write_text("")
    return error(run_preprocess)


def header_only():
    write_text(raw_frame(rows=1, channels=400).iloc[:0].to_csv())
    return error(run_preprocess)


def non_numeric_spectral_value():
    write_raw(with_cell(2, 5, "abc"))
    return error(run_preprocess)


def missing_spectral_value():
    write_raw(with_cell(2, 390, np.nan))
    return error(run_preprocess)


def infinite_spectral_value():
    write_raw(with_cell(3, 390, np.inf))
    return error(run_preprocess)


def all_zero_spectrum():
    raw = raw_frame(rows=6, channels=400)
    raw.iloc[3, 3:-2] = 0.0
    write_raw(raw)
    return error(run_preprocess)


def too_few_channels():
    write_raw(raw_frame(rows=6, channels=300))
    return error(run_preprocess)


def duplicated_column_name():
    write_text(raw_frame(rows=6, channels=400).to_csv().replace("3791.9", "3800.0", 1))
    return error(run_preprocess)


def column_without_name():
    write_text(raw_frame(rows=6, channels=400).to_csv().replace("\n", ",\n"))
    return error(run_preprocess)


def row_without_sample_id():
    write_text(raw_frame(rows=6, channels=400).to_csv().replace("\nS0003,", "\n,"))
    return error(run_preprocess)


def no_sample_id_column():
    write_raw(raw_frame(rows=6, channels=400), index=False)
    return error(run_preprocess)


def line_with_more_fields():
    write_text(raw_frame(rows=6, channels=400).to_csv().replace("\nS0004,", "\nS0004,1,", 1))
    return error(run_preprocess)


def non_numeric_metadata():
    write_raw(with_cell(1, 0, "NRW.42"))
    return error(run_preprocess)


def metadata_missing_in_preprocess():
    raw = raw_frame(rows=6, channels=400)
    write_raw(raw.drop(columns=["SiteID", "DepthFrom", "DepthTo"]))
    run_preprocess()
    features = pd.read_csv(FEATURES, index_col=0)
    assert list(features.index) == list(raw.index)
    assert features.columns[0] == "3800.0" and list(features.columns[-2:]) == ["CuPPM", "AuPPM"]


def metadata_missing_at_prediction():
    _, data = trained_model()
    return error(served, data.drop(columns=["SiteID"]).to_csv())


def challenge_targets_partly_present():
    raw = raw_frame(rows=20, channels=400, targets=("CuPPM", "AuPPM", "FePCT"))
    write_raw(raw)
    model = run_train()
    assert model.coef_.shape[0] == 3
    assert model.predict(preprocess(RAW)).shape == (20, 3)


def empty_target_columns():
    raw = raw_frame(rows=6, channels=400)
    raw[["CuPPM"]] = np.nan
    write_raw(raw)
    return error(run_train)


def missing_target_value():
    raw = raw_frame(rows=6, channels=400).astype(object)
    raw.loc["S0004", "AuPPM"] = np.nan
    write_raw(raw)
    return error(run_train)


def private_file_to_training():
    write_raw(raw_frame(rows=6, channels=400, targets=()))
    return error(run_train)


def feature_columns_in_another_order():
    model, data = trained_model()
    X = data.drop(columns=["CuPPM", "AuPPM"])
    reordered = data[list(data.columns[::-1])].to_csv()
    np.testing.assert_array_equal(served(reordered), model.predict(X))


def feature_columns_missing():
    _, data = trained_model()
    return error(served, data.drop(columns=data.columns[[5, 9]]).to_csv())


def headerless_rows_of_another_width():
    _, data = trained_model()
    return error(served, data.iloc[:, :-3].to_csv(header=False))


def spectra_on_another_grid():
    trained_model()
    raw = raw_frame(rows=6, channels=400)
    raw.columns = [f"{float(c) + 0.5:.1f}" if c[0].isdigit() else c for c in raw.columns]
    return error(served, preprocess(raw).to_csv())


def spectra_with_more_channels():
    trained_model()
    raw = raw_frame(rows=6, channels=400)
    extra = pd.DataFrame(0.5, index=raw.index, columns=[f"{540 - i:.1f}" for i in range(7)])
    return error(served, preprocess(pd.concat([raw, extra], axis=1)).to_csv())


def predictions_with_header():
    return score_error(["CuPPM,AuPPM", "1,2", "3,4", "5,6"])


def predictions_with_extra_column():
    return score_error(["1,2,0", "3,4,0", "5,6,0"])


def predictions_missing_a_row():
    return score_error(["1,2", "3,4"])


def predictions_not_numbers():
    return score_error(["1,2", "3,nan", "5,6"])


def truncated_gzip():
    write_raw(raw_frame(rows=50, channels=400))
    data = Path(RAW).read_bytes()
    Path(RAW).write_bytes(data[: len(data) // 2])
    return error(run_preprocess)


def not_utf8():
    write_raw(raw_frame(rows=6, channels=400), encoding="utf-16")
    return error(run_preprocess)


def latin1():
    raw = raw_frame(rows=6, channels=400).rename(columns={"CuPPM": "Cu_µg/g"})
    write_raw(raw, encoding="latin-1")
    return error(run_preprocess)


def utf8_with_byte_order_mark():
    raw = raw_frame(rows=6, channels=400)
    write_raw(raw, encoding="utf-8-sig")
    run_preprocess()
    pd.testing.assert_frame_equal(pd.read_csv(FEATURES, index_col=0), preprocess(raw),
                                  check_exact=False, rtol=1e-15)


def semicolon_separators():
    write_raw(raw_frame(rows=6, channels=400), sep=";")
    return error(run_preprocess)


def model_of_another_scikit_learn(monkeypatch):
    model, _ = trained_model()
    with monkeypatch.context() as patch:
        patch.setattr(sklearn, "__version__", "1.5.2")
        joblib.dump(model, "model/model.joblib")
    assert sklearn.__version__ != "1.5.2"
    return error(model_fn, "model")


def model_file_missing():
    return error(model_fn, "model", kind=FileNotFoundError)


def model_file_not_a_model():
    Path("model").mkdir()
    Path("model/model.joblib").write_bytes(b"not a model")
    return error(model_fn, "model")


def constant_target_in_scored_rows():
    actual = raw_frame(rows=4, channels=400)
    actual["AuPPM"] = -0.01  # every row below detection
    y, scored = write_pair(["1,-0.01", "2,-0.01", "3,-0.01", "4,0"], actual)
    table = scored()
    assert table.loc["AuPPM", "r2"] == 0.0
    exact = score_table(y, np.column_stack([np.arange(1, 5), np.full(4, -0.01)]))
    assert exact.loc["AuPPM", "r2"] == 1.0


def duplicated_sample_ids():
    raw = raw_frame(rows=6, channels=400)
    raw.index = ["S1", "S2", "S1", "S3", "S2", "S1"]
    write_raw(raw)
    assert run_preprocess() == 6
    features = pd.read_csv(FEATURES, index_col=0)
    assert list(features.index) == list(raw.index)
    np.testing.assert_array_equal(features[["CuPPM"]], raw[["CuPPM"]])


CASES = {
    "empty file": empty_file,
    "header line only": header_only,
    "non-numeric value in a spectral column": non_numeric_spectral_value,
    "missing value in a spectrum": missing_spectral_value,
    "infinite value in a spectrum": infinite_spectral_value,
    "all-zero spectrum (maximum ≤ 0)": all_zero_spectrum,
    "fewer channels than the normalisation range needs": too_few_channels,
    "duplicated column name": duplicated_column_name,
    "column without a name (trailing commas)": column_without_name,
    "row without a sample id": row_without_sample_id,
    "no sample id column": no_sample_id_column,
    "a line with more fields than the header": line_with_more_fields,
    "non-numeric metadata": non_numeric_metadata,
    "metadata columns missing": metadata_missing_in_preprocess,
    "metadata column missing at prediction": metadata_missing_at_prediction,
    "some of the 49 challenge targets missing": challenge_targets_partly_present,
    "target columns present but empty (private file)": empty_target_columns,
    "a target value missing": missing_target_value,
    "private file (no targets) passed to training": private_file_to_training,
    "feature columns in another order": feature_columns_in_another_order,
    "feature columns missing": feature_columns_missing,
    "headerless rows of another width": headerless_rows_of_another_width,
    "spectra on another wavenumber grid": spectra_on_another_grid,
    "spectra with another channel count": spectra_with_more_channels,
    "predictions file with a header": predictions_with_header,
    "predictions file with an extra column": predictions_with_extra_column,
    "predictions file missing a row": predictions_missing_a_row,
    "predictions file with a non-number": predictions_not_numbers,
    "truncated gzip file": truncated_gzip,
    "another encoding (UTF-16)": not_utf8,
    "another encoding (Latin-1, with a non-ASCII character)": latin1,
    "UTF-8 with a byte-order mark (Excel)": utf8_with_byte_order_mark,
    "';' separators": semicolon_separators,
    "model saved by another scikit-learn": model_of_another_scikit_learn,
    "no model file": model_file_missing,
    "model file that is not a model": model_file_not_a_model,
    "constant target in the scored rows": constant_target_in_scored_rows,
    "duplicated sample ids": duplicated_sample_ids,
}


def test_readme_lists_every_case_once():
    listed = [case for case, _ in readme_cases()]
    assert sorted(listed) == sorted(CASES)


@pytest.mark.parametrize("case, message", readme_cases(), ids=[c for c, _ in readme_cases()])
def test_case_gets_the_readme_outcome(case, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    call = CASES[case]
    got = call(monkeypatch) if "monkeypatch" in call.__code__.co_varnames else call()
    assert got == message


@pytest.mark.parametrize("script, args", [
    ("preprocess.py", ["--input", RAW, "--output", FEATURES]),
    ("train.py", ["--data_dir", "data/public", "--model_dir", "model"]),
])
def test_scripts_print_the_sentence_without_a_traceback(script, args, tmp_path):
    from conftest import run
    (tmp_path / "data" / "public").mkdir(parents=True)
    (tmp_path / RAW).write_bytes(gzip.compress(b""))
    done = run(ROOT / script, *args, cwd=tmp_path)
    assert done.returncode == 1
    sentence = f"{RAW} is empty: it needs a header line and one line per sample"
    assert done.stderr.splitlines()[-1] == f"error: {sentence}"
    assert "Traceback" not in done.stderr
