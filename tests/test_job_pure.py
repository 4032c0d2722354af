"""Pure parts of the job side: versions, determinism plan, CPU/ClassAd/nvidia-smi parsers, loaders."""
from __future__ import annotations

import numpy as np
import pytest

from reprogrid.job import compat, data, determinism, fingerprint, workloads
from reprogrid.core.resources import sample_data_dir


@pytest.mark.parametrize("text, expected", [
    ("2.8.0", (2, 8, 0)), ("2.10.1", (2, 10, 1)), ("2.16.0-rc0", (2, 16, 0)),
    ("2.9.1+nv22.06", (2, 9, 1)), ("", ()), (None, ()), ("nightly", ()),
])
def test_parse_version(text, expected):
    assert compat.parse_version(text) == expected


def test_version_compare_is_integer_not_float():
    # float("2.10"[0:3]) >= 2.8 is False: the original study's bug
    assert compat.version_at_least("2.10.0", (2, 8))
    assert compat.version_at_least("2.8", (2, 8))
    assert not compat.version_at_least("2.7.4", (2, 8))
    assert compat.version_at_least("3.0", (2, 8))


def test_determinism_plan():
    assert determinism.plan("2.21.0", True) == {"set_random_seed": True, "enable_op_determinism": True, "env_deterministic_ops": False}
    assert determinism.plan("2.10.0", True)["enable_op_determinism"] is True
    assert determinism.plan("2.7.0", True)["env_deterministic_ops"] is True
    assert not any(determinism.plan("2.21.0", False).values())


CPUINFO = """\
processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 85
model name\t: Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz
flags\t\t: fpu sse sse2 ssse3 cx16 sse4_1 sse4_2 popcnt lahf_lm abm avx avx2 bmi1 bmi2 f16c fma movbe xsave avx512f avx512dq avx512cd avx512bw avx512vl

processor\t: 1
vendor_id\t: GenuineIntel
model name\t: other
"""

V3 = "sse sse2 ssse3 cx16 sse4_1 sse4_2 popcnt lahf_lm abm avx avx2 bmi1 bmi2 f16c fma movbe xsave"


def test_parse_cpuinfo_first_block():
    info = fingerprint.parse_cpuinfo(CPUINFO)
    assert info["vendor"] == "GenuineIntel"
    assert info["model"] == "Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz"
    assert (info["family"], info["model_number"]) == (6, 85)
    assert "avx512f" in info["flags"] and info["flags"] == sorted(info["flags"])


@pytest.mark.parametrize("flags, level", [
    (V3 + " avx512f avx512dq avx512cd avx512bw avx512vl", "x86_64-v4"),
    (V3, "x86_64-v3"),
    (V3.replace(" movbe", ""), "x86_64-v2"),  # one v3 instruction missing
    ("sse sse2 ssse3 cx16 sse4_1 sse4_2 popcnt lahf_lm", "x86_64-v2"),
    ("sse sse2 ssse3 cx16 sse4_1 sse4_2 popcnt", "x86_64-v1"),
    ("avx512f avx512dq avx512cd avx512bw avx512vl", "x86_64-v4"),  # HTCondor checks v4's list alone
])
def test_microarch_as_htcondor(flags, level):
    assert fingerprint.microarch(flags.split(), "x86_64") == level


def test_microarch_off_x86():
    assert fingerprint.microarch(["asimd"], "aarch64") is None


def test_parse_classad_lines():
    text = 'ClusterId = 1234\nProcId = 0\nGLIDEIN_Site = "UChicago"\nMemory = 2048.5\nhas_avx2 = true\n' \
           'Name = "slot1@x \\"quoted\\""\nRequirements = (TARGET.Arch == "X86_64")\nJunk line\n'
    ad = fingerprint.parse_classad_lines(text)
    assert ad["ClusterId"] == 1234 and ad["ProcId"] == 0
    assert ad["GLIDEIN_Site"] == "UChicago"
    assert ad["Memory"] == 2048.5 and ad["has_avx2"] is True
    assert ad["Name"] == 'slot1@x "quoted"'
    assert ad["Requirements"] == '(TARGET.Arch == "X86_64")'
    assert fingerprint.pick(ad, ["clusterid", "glidein_site", "Absent"]) == {"clusterid": 1234, "glidein_site": "UChicago"}


def test_parse_nvidia_smi():
    text = "NVIDIA A100-PCIE-40GB, GPU-0f2e, 535.104.05, 40960, 8.0\nTesla V100-PCIE-16GB, GPU-aa, 535.104.05, 16384, 7.0\n"
    gpus = fingerprint.parse_nvidia_smi_csv(text, fingerprint.NVIDIA_FIELDS)
    assert gpus[0] == {"name": "NVIDIA A100-PCIE-40GB", "uuid": "GPU-0f2e", "driver_version": "535.104.05",
                       "memory.total": 40960, "compute_cap": "8.0"}
    assert len(gpus) == 2


def test_pad_sequences_matches_keras_defaults():
    seqs = [[1, 2, 3, 4, 5], [7], [], list(range(10, 30))]
    ours = data.pad_sequences(seqs, maxlen=6)
    assert ours.dtype == np.int32
    assert ours[0].tolist() == [0, 1, 2, 3, 4, 5]
    assert ours[2].tolist() == [0] * 6
    assert ours[3].tolist() == list(range(24, 30))  # pre-truncation keeps the end
    keras = pytest.importorskip("keras")
    assert np.array_equal(ours, keras.utils.pad_sequences(seqs, maxlen=6))


def test_imdb_loader_matches_keras(monkeypatch):
    """Our loader reproduces keras.datasets.imdb.load_data(num_words=20000) + pad_sequences(200)."""
    imdb_mod = pytest.importorskip("keras.src.datasets.imdb")
    keras = pytest.importorskip("keras")
    path = str(sample_data_dir() / "imdb.npz")
    monkeypatch.setattr(imdb_mod, "get_file", lambda *a, **k: path)
    (kx_train, ky_train), (kx_test, ky_test) = imdb_mod.load_data(num_words=20000)
    ours = data.load_imdb(str(sample_data_dir()), num_words=20000, maxlen=200)
    assert np.array_equal(ours["x_train"], keras.utils.pad_sequences(kx_train, maxlen=200))
    assert np.array_equal(ours["x_test"], keras.utils.pad_sequences(kx_test, maxlen=200))
    assert np.array_equal(ours["y_train"], ky_train) and np.array_equal(ours["y_test"], ky_test)
    assert (ours["x_train"] == 2).any(), "sample should exercise the oov_char path"
    capped = data.load_imdb(str(sample_data_dir()), max_samples=10)
    assert np.array_equal(capped["x_train"], ours["x_train"][:10])


def test_mnist_loader_matches_keras(monkeypatch):
    mnist_mod = pytest.importorskip("keras.src.datasets.mnist")
    path = str(sample_data_dir() / "mnist.npz")
    monkeypatch.setattr(mnist_mod, "get_file", lambda *a, **k: path)
    (x_train, y_train), (x_test, y_test) = mnist_mod.load_data()
    ours = data.load_mnist(str(sample_data_dir()))
    assert np.array_equal(ours["x_train"], x_train) and np.array_equal(ours["y_test"], y_test)


def test_creditcard_loader_kaggle_quoting():
    loaded = data.load_creditcard(str(sample_data_dir()))
    assert loaded["features"].shape[1] == 30 and loaded["features"].dtype == np.float32
    assert loaded["targets"].dtype == np.uint8 and set(np.unique(loaded["targets"])) == {0, 1}


def test_creditcard_split_and_class_weights():
    prepared = workloads.WORKLOADS["imbalanced_classification"].load(str(sample_data_dir()), None)
    n = len(prepared["x_train"]) + len(prepared["x_test"])
    assert len(prepared["x_test"]) == int(n * 0.2)
    counts = np.bincount(prepared["y_train"][:, 0])
    assert np.allclose(prepared["class_weight"], 1.0 / counts)
    assert np.allclose(prepared["x_train"].mean(axis=0), 0, atol=1e-4)


def test_confusion_counts_threshold():
    pred = np.array([[0.9], [0.5], [0.2], [0.7], [0.1]])
    true = np.array([[1], [1], [0], [0], [1]])
    assert workloads.confusion_counts(pred, true) == {"tp": 1, "fp": 1, "tn": 1, "fn": 2}


@pytest.mark.parametrize("name, content, words", [
    ("mnist.npz", b"this is not a zip", ["mnist.npz", "npz", "x_train"]),
    ("imdb.npz", b"PK\x03\x04 broken", ["imdb.npz", "word-index"]),
    ("creditcard.csv", b"a,b,c\n1,2,3\n", ["creditcard.csv", "line 1", "Kaggle"]),
])
def test_malformed_files_name_file_and_expectation(tmp_path, name, content, words):
    (tmp_path / name).write_bytes(content)
    loader = {"mnist.npz": data.load_mnist, "imdb.npz": data.load_imdb, "creditcard.csv": data.load_creditcard}[name]
    with pytest.raises(data.DataError) as err:
        loader(str(tmp_path))
    for word in words:
        assert word in str(err.value)


def test_missing_file_message(tmp_path):
    with pytest.raises(data.DataError, match="mnist.npz: file not found"):
        data.load_mnist(str(tmp_path))


def test_creditcard_bad_row_names_line(tmp_path):
    lines = (sample_data_dir() / "creditcard.csv").read_text().splitlines()
    lines[5] = lines[5].replace(",", ";", 3)
    (tmp_path / "creditcard.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(data.DataError, match="line 6 has"):
        data.load_creditcard(str(tmp_path))


def test_catalogue_is_the_one_table_of_workloads():
    from reprogrid.job import catalogue, workloads
    from reprogrid.prepare.datafiles import DATA_FILES
    from reprogrid.spec import study_from_dict

    assert tuple(workloads.WORKLOADS) == catalogue.WORKLOAD_NAMES
    for name, impl in workloads.WORKLOADS.items():
        assert impl.files == [catalogue.data_file(name)]
    assert DATA_FILES == catalogue.DATA_FILES
    study = study_from_dict({"name": "t", "workloads": [{"name": n} for n in catalogue.WORKLOAD_NAMES],
                             "software": [{"name": "s", "image": "docker://tensorflow/tensorflow:2.8.0"}],
                             "hardware": [{"name": "h", "cpu": {"vendor": "amd"}}], "data": {"sample": True}})
    assert [w.data_file for w in study.workloads] == list(catalogue.DATA_FILES)
