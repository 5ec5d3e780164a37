"""skd_ros: one ament_python package (colcon build in a ROS 2 workspace) that also installs with pip."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "skd_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    description="Real-time aerial video saliency (SKD) for ROS 2: saliency maps and attention ROIs for drones",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["skd_ros", "skd_ros.*", "skd_training", "skd_training.*"]),
    package_data={"skd_ros": ["weights/*.pt", "weights/*.md"], "skd_training": ["configs/*.yaml"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.xml") + glob("config/*.env")),
    ],
    # Runtime dependencies are pinned in requirements.txt (pip path) and declared in package.xml (ROS path);
    # torch is deliberately not listed here, so that no resolver can pull an unpinned CUDA build.
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="skd_ros developers",
    maintainer_email="skd-ros@example.org",
    tests_require=["pytest"],
    entry_points={
        "console_scripts": [
            "skd-demo = skd_ros.demo:main",
            "skd-saliency-node = skd_ros.node:main",
            "saliency_node = skd_ros.node:main",  # the name `ros2 run skd_ros saliency_node` finds
            "skd-eval-bag = skd_ros.eval_bag:main",
            "skd-bag = skd_ros.bag:main",
            "skd-bench = skd_ros.bench:main",
            "skd-train = skd_training.train:main",
            "skd-export = skd_training.export:main",
            "skd-eval = skd_training.evaluate:main",
            "skd-reproduce = skd_training.reproduce:main",
            "skd-make-synthetic = skd_training.data.synthetic:main",
            "skd-dataset-summary = skd_training.data.summary:main",
            "skd-synthetic-difficulty = skd_training.data.difficulty:main",
        ],
    },
)
