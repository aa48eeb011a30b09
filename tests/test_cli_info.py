"""``faceprint info``: versions, models, hashes and the engine, as JSON and text."""

from __future__ import annotations

import json

from cli_process import ok, run


def test_info_reports_models_and_engine() -> None:
    info = json.loads(ok(run("info", "--json")).stdout)
    assert info["models"]["dlib-resnet"]["sha256"].startswith("55533b28a958")
    assert "CPUExecutionProvider" in info["providers"]["chosen"]
    assert set(info["detectors"]) >= {"haar", "hog", "cnn", "mtcnn", "blazeface",
                                      "blazeface-onet"}
    assert info["blazeface_engine"] == ("litert" if "ai-edge-litert" in info["packages"]
                                        else "opencv")
    human = ok(run("info")).stdout
    assert "engine: ONNX Runtime" in human and "dlib-mmod" in human
    assert info["providers"]["onnxruntime"] and isinstance(info["providers"]["gpu_present"], bool)
    assert "NVIDIA GPU " in human
    assert "BlazeFace on " in human
