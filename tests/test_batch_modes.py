"""predict.py replays every Batch Transform mode, and every mode writes the same .out file."""
import pytest

import predict
import train
from conftest import ROOT, raw_frame, run
from mdl import ClippedRidgeCV
from preprocess import preprocess

TARGETS = ["CuPPM", "AuPPM"]
ROWS = 30
MODES = [
    dict(split_type="None"),
    dict(split_type="Line"),
    dict(split_type="Line", batch_strategy="MultiRecord", max_payload_mb=None),  # ~4 rows each
    dict(split_type="Line", batch_strategy="SingleRecord"),
]


@pytest.fixture
def job(tmp_path):
    """A feature file as preprocess writes it (index, metadata, features, targets) and a model."""
    features = preprocess(raw_frame(rows=ROWS, channels=400, targets=TARGETS))
    features_file = tmp_path / "public.csv"
    features.to_csv(features_file)
    model = ClippedRidgeCV().fit(features.drop(columns=TARGETS), features[TARGETS])
    train.save_model(model, tmp_path / "model")
    return features_file, tmp_path / "model", model, features


def lines_of(path):
    return path.read_bytes().splitlines(keepends=True)


def small_payload_mb(features_file, rows):
    """A MaxPayloadInMB that fits the header and `rows` rows, but not one more."""
    header, *data = lines_of(features_file)
    return (len(header) + sum(map(len, data[:rows]))) / predict.MB


def test_every_mode_writes_the_same_predictions(job, tmp_path):
    features_file, model_dir, model, features = job
    outputs = []
    for number, mode in enumerate(MODES):
        if "max_payload_mb" in mode:
            mode = {**mode, "max_payload_mb": small_payload_mb(features_file, 4)}
        out = predict.batch_transform(features_file, model_dir, tmp_path / f"out{number}", **mode)
        assert out.name == "public.csv.out"
        outputs.append(out.read_bytes())
    assert all(output == outputs[0] for output in outputs[1:])
    rows = [[float(v) for v in line.split(",")] for line in outputs[0].decode().splitlines()]
    assert rows == model.predict(features).tolist()  # input order, every digit


def test_requests_are_split_as_batch_transform_splits_them(job):
    features_file = job[0]
    header, *data = lines_of(features_file)
    limit_mb = small_payload_mb(features_file, 4)
    for mode, count in [(("None", "MultiRecord", 6), 1), (("Line", "MultiRecord", 6), 1),
                        (("Line", "MultiRecord", limit_mb), None),
                        (("Line", "SingleRecord", 6), ROWS + 1)]:
        plan = predict.plan_requests(features_file, *mode)
        body = features_file.read_bytes()
        bodies = [body[start:end] for start, end, _, _ in plan]
        assert b"".join(bodies) == body, mode
        assert bodies[0].startswith(header) and all(header not in b for b in bodies[1:]), mode
        last_row = 0
        for i, (body_i, (_, _, first, last)) in enumerate(zip(bodies, plan)):
            rows_sent = body_i.count(b"\n") - (i == 0)
            assert (first, last) == (last_row + 1, last_row + rows_sent), (mode, i)
            last_row = last
        if count:
            assert len(plan) == count, mode
        assert plan[-1][3] == ROWS
    small = predict.plan_requests(features_file, "Line", "MultiRecord", limit_mb)
    # the first request holds the header and 4 rows, the next ones 4 rows or so, none over
    assert (small[0][2], small[0][3]) == (1, 4)
    assert all(end - start <= limit_mb * predict.MB for start, end, _, _ in small)
    assert len(small) >= ROWS // 5
    single = predict.plan_requests(features_file, "Line", "SingleRecord")
    assert [(first, last) for _, _, first, last in single] == [(1, 0)] + [
        (row, row) for row in range(1, ROWS + 1)]


def test_a_request_over_the_payload_limit_is_refused_before_sending(job, tmp_path):
    features_file = job[0]
    no_model = tmp_path / "no_model"  # the server would fail on it: nothing may be sent
    with pytest.raises(ValueError, match=r"over MaxPayloadInMB=0\.001 .*--split_type Line"):
        predict.batch_transform(features_file, no_model, tmp_path, max_payload_mb=0.001)
    with pytest.raises(ValueError, match=r"row 0 of .* over MaxPayloadInMB=0\.0002 .*--max_payload_mb"):
        predict.batch_transform(features_file, no_model, tmp_path, "Line", max_payload_mb=0.0002)
    with pytest.raises(ValueError, match="at most 100"):
        predict.plan_requests(features_file, "Line", max_payload_mb=101)
    with pytest.raises(ValueError, match="unknown SplitType 'RecordIO'"):
        predict.plan_requests(features_file, "RecordIO")


def test_the_largest_input_fits_and_one_row_more_does_not(job, tmp_path):
    features_file = job[0]
    header, *data = lines_of(features_file)
    longest = max(data, key=len)
    modes, header_bytes, row_bytes = predict.largest_inputs(features_file, 0.05)
    assert (header_bytes, row_bytes) == (len(header), len(longest))
    rows = modes["SplitType None"][0]
    assert modes["SplitType Line, MultiRecord"] == (rows, None)
    assert modes["SplitType Line, SingleRecord"] == (1, None)
    for count, fits in [(rows, True), (rows + 1, False)]:
        wide = tmp_path / f"wide{count}.csv"
        wide.write_bytes(header + longest * count)
        if fits:
            assert len(predict.plan_requests(wide, "None", max_payload_mb=0.05)) == 1
            assert len(predict.plan_requests(wide, "Line", max_payload_mb=0.05)) == 1
        else:
            with pytest.raises(ValueError, match="over MaxPayloadInMB"):
                predict.plan_requests(wide, "None", max_payload_mb=0.05)
            assert len(predict.plan_requests(wide, "Line", max_payload_mb=0.05)) == 2


def test_a_failed_request_names_its_rows_and_leaves_no_output(job, tmp_path):
    features_file, model_dir = job[:2]
    lines = lines_of(features_file)
    fields = lines[7].split(b",")
    lines[7] = b",".join(fields[:5] + [b"bad"] + fields[6:])  # row 7 has text for a feature
    features_file.write_bytes(b"".join(lines))
    out = tmp_path / "out" / "public.csv.out"
    for mode, where in [(("None",), "request 1 of 1 (rows 1–30 of"),
                        (("Line", "SingleRecord"), "request 8 of 31 (rows 7–7 of")]:
        out.parent.mkdir(exist_ok=True)
        out.write_text("a previous replay's predictions\n")
        with pytest.raises(RuntimeError, match="failed: POST /invocations: 500") as error:
            predict.batch_transform(features_file, model_dir, out.parent, *mode)
        assert where in str(error.value)
        assert not out.exists()
        assert not list(out.parent.iterdir())


def test_cli_takes_the_modes(tmp_path, capsys):
    raw = tmp_path / "raw.csv"
    raw_frame(rows=ROWS, channels=400, targets=TARGETS).to_csv(raw)
    features = preprocess(raw)
    model = ClippedRidgeCV().fit(features.drop(columns=TARGETS), features[TARGETS])
    train.save_model(model, tmp_path / "model")
    paths = ["--input", raw, "--features", tmp_path / "features.csv",
             "--model_dir", tmp_path / "model", "--output_dir", tmp_path / "out"]
    done = run(ROOT / "predict.py", *paths, "--split_type", "Line",
               "--batch_strategy", "SingleRecord", "--max_payload_mb", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "31 request(s) (SplitType Line, BatchStrategy SingleRecord, MaxPayloadInMB 1)" in (
        done.stderr)
    lines = (tmp_path / "out" / "features.csv.out").read_text().splitlines()
    assert [[float(v) for v in line.split(",")] for line in lines] == model.predict(
        features).tolist()
    with pytest.raises(SystemExit):
        predict.main([*map(str, paths), "--max_payload_mb", "101"])
    assert "--max_payload_mb" in capsys.readouterr().err
    predict.main([*map(str, paths), "--limits"])
    assert "SplitType None" in capsys.readouterr().out


def test_rows_per_second_replays_without_writing(job, tmp_path):
    features_file, model_dir = job[:2]
    speed = predict.rows_per_second(features_file, model_dir, "Line", "SingleRecord")
    assert isinstance(speed, float) and 0 < speed < float("inf")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "public.csv"]
