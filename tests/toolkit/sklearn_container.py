"""The SageMaker scikit-learn container's model server (framework 0.23-1), for the toolkit test.

The container's own module (`sagemaker_sklearn_container.serving`) is not on the package
registry, so this re-states what it does over the real serving toolkit
(`sagemaker-containers`): the user module's hooks where it defines them, the container's
defaults where it does not, in a `transformer.Transformer` served by a `worker.Worker` that is
built on the first request, in each gunicorn worker, as the container builds it. Run from
`.venv-toolkit` with this folder (for `sitecustomize.py`) and the bundle on PYTHONPATH:

    SAGEMAKER_BASE_DIR=<dir with model/> PYTHONPATH=tests/toolkit:. \\
        .venv-toolkit/bin/gunicorn -k gevent -b 127.0.0.1:8081 sklearn_container:main
"""
import importlib
import os

import numpy as np
from sagemaker_containers.beta.framework import content_types, encoders, transformer, worker

MODULE = os.environ.get("SAGEMAKER_PROGRAM", "train.py").removesuffix(".py")


def default_input_fn(input_data, content_type):
    np_array = encoders.decode(input_data, content_type)
    return np_array.astype(np.float32) if content_type in content_types.UTF8_TYPES else np_array


def default_predict_fn(input_data, model):
    return model.predict(input_data)


def default_output_fn(prediction, accept):
    return worker.Response(encoders.encode(prediction, accept), mimetype=accept)


def user_module_transformer(module):
    return transformer.Transformer(
        model_fn=getattr(module, "model_fn", transformer.default_model_fn),
        input_fn=getattr(module, "input_fn", default_input_fn),
        predict_fn=getattr(module, "predict_fn", default_predict_fn),
        output_fn=getattr(module, "output_fn", default_output_fn),
    )


app = None


def main(environ, start_response):
    global app
    if app is None:
        module = importlib.import_module(MODULE)
        user_transformer = user_module_transformer(module)
        user_transformer.initialize()
        app = worker.Worker(
            transform_fn=user_transformer.transform,
            module_name=MODULE,
            execution_parameters_fn=getattr(module, "execution_parameters_fn", None),
        )
    return app(environ, start_response)
