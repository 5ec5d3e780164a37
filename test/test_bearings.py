"""skd_ros.core.bearings: rays from CameraInfo, checked against the camera models written out by hand (pinhole,
plumb_bob, rational_polynomial, equidistant; binning and roi), and skd_ros.node.stream.CameraCalibration."""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from skd_ros.core.bearings import CameraInfoError, camera_model_from_info, orientation_along
from skd_ros.node.stream import CameraCalibration, camera_info_beside

FX, FY, CX, CY = 500.0, 400.0, 319.5, 239.5  # the centre of a 640 x 480 image in pixel-centre coordinates


def camera_info(
    model="plumb_bob", d=(), k=(FX, 0, CX, 0, FY, CY, 0, 0, 1), width=640, height=480, binning=(0, 0), roi=None
):
    """The fields of a sensor_msgs/CameraInfo (read by attribute, as from rclpy or rosbags)."""
    x_offset, y_offset, roi_width, roi_height = roi or (0, 0, 0, 0)
    return SimpleNamespace(
        distortion_model=model,
        d=list(d),
        k=list(k),
        width=width,
        height=height,
        binning_x=binning[0],
        binning_y=binning[1],
        roi=SimpleNamespace(x_offset=x_offset, y_offset=y_offset, width=roi_width, height=roi_height, do_rectify=False),
    )


def unit(x, y):
    """The unit ray through normalised image coordinates (x, y)."""
    norm = math.sqrt(x * x + y * y + 1.0)
    return np.array([x / norm, y / norm, 1.0 / norm])


def pixel_edge(x_d, y_d, fx=FX, fy=FY, cx=CX, cy=CY):
    """Distorted normalised coordinates -> the point in pixel-edge coordinates (K's pixel centres + 0.5)."""
    return fx * x_d + cx + 0.5, fy * y_d + cy + 0.5


def test_pinhole_rays_by_hand():
    model = camera_model_from_info(camera_info(d=[0.0] * 5))
    points = [(320.0, 240.0), (420.5, 140.5), (0.5, 479.5)]
    expected = [
        [0.0, 0.0, 1.0],  # the principal point: straight ahead
        unit((420.0 - CX) / FX, (140.0 - CY) / FY),  # right and up: x > 0, y < 0 (optical frame: y down)
        unit((0.0 - CX) / FX, (479.0 - CY) / FY),  # the centre of the bottom-left pixel
    ]
    np.testing.assert_allclose(model.rays(points), expected, atol=1e-12)
    assert model.rays([]).shape == (0, 3)


@pytest.mark.parametrize(
    "name, coefficients",
    [
        ("plumb_bob", [-0.28, 0.09, 0.0012, -0.0021, -0.015]),
        ("rational_polynomial", [-0.28, 0.09, 0.0012, -0.0021, -0.015, 0.05, 0.01, 0.002]),
    ],
)
def test_brown_conrady_distortion_is_undone(name, coefficients):
    """The ray of a known direction, distorted with the formula of OpenCV/ROS (written out here), comes back."""
    k1, k2, p1, p2, k3, k4, k5, k6 = (*coefficients, 0.0, 0.0, 0.0)[:8]
    model = camera_model_from_info(camera_info(name, coefficients))
    for x, y in [(0.3, -0.2), (-0.55, 0.4), (0.0, 0.0), (0.6, 0.45)]:
        r2 = x * x + y * y
        radial = (1 + k1 * r2 + k2 * r2**2 + k3 * r2**3) / (1 + k4 * r2 + k5 * r2**2 + k6 * r2**3)
        x_d = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
        y_d = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
        (ray,) = model.rays([pixel_edge(x_d, y_d)])
        np.testing.assert_allclose(ray, unit(x, y), atol=1e-7, err_msg=f"{name} at ({x}, {y})")
    # the distortion matters: the same pixel read as a pinhole is another direction
    pinhole = camera_model_from_info(camera_info(name, [0.0] * len(coefficients)))
    assert np.abs(pinhole.rays([pixel_edge(0.6, 0.45)]) - model.rays([pixel_edge(0.6, 0.45)])).max() > 0.01


def test_equidistant_fisheye_distortion_is_undone():
    k1, k2, k3, k4 = 0.05, -0.01, 0.002, -0.0005
    model = camera_model_from_info(camera_info("equidistant", [k1, k2, k3, k4], k=(300, 0, CX, 0, 300, CY, 0, 0, 1)))
    for x, y in [(1.2, -0.7), (0.2, 0.1), (-1.5, 1.1)]:  # up to 62 degrees off the axis
        r = math.hypot(x, y)
        theta = math.atan(r)
        theta_d = theta * (1 + k1 * theta**2 + k2 * theta**4 + k3 * theta**6 + k4 * theta**8)
        (ray,) = model.rays([pixel_edge(theta_d / r * x, theta_d / r * y, 300, 300)])
        np.testing.assert_allclose(ray, unit(x, y), atol=1e-6, err_msg=f"equidistant at ({x}, {y})")


def test_binning_and_roi_map_the_published_image_onto_the_sensor():
    """K describes the full 1280 x 960 sensor; the camera publishes its roi (100, 60, 800 x 600) binned 2 x 2,
    a 400 x 300 image: its point (150.25, 80.75) is the sensor's (400.5, 221.5), K's pixel (400, 221)."""
    k = (1000.0, 0, 639.5, 0, 1000.0, 479.5, 0, 0, 1)
    model = camera_model_from_info(camera_info(k=k, width=1280, height=960, binning=(2, 2), roi=(100, 60, 800, 600)))
    np.testing.assert_allclose(model.rays([(150.25, 80.75)])[0], unit((400 - 639.5) / 1000, (221 - 479.5) / 1000))
    model.check_image_size(400, 300)
    with pytest.raises(CameraInfoError, match="describes 400x300 images.*image is 1280x960"):
        model.check_image_size(1280, 960)
    binned = camera_model_from_info(camera_info(k=k, width=1280, height=960, binning=(2, 4)))
    np.testing.assert_allclose(binned.rays([(10.0, 10.0)])[0], unit((19.5 - 639.5) / 1000, (39.5 - 479.5) / 1000))
    binned.check_image_size(640, 240)


@pytest.mark.parametrize(
    "info, words",
    [
        (camera_info("kannala_brandt", [0.1, 0.0, 0.0, 0.0]), "distortion model 'kannala_brandt' is not one of"),
        (camera_info(k=[0.0] * 9), "K is all zeros"),
        (camera_info(k=[0.0, 0, CX, 0, FY, CY, 0, 0, 1]), "focal lengths"),
        (camera_info(d=[0.1] * 8), "plumb_bob takes up to 5"),
        (camera_info(k=[FX, 0, CX]), "K must be 9"),
    ],
)
def test_a_calibration_without_rays_says_why(info, words):
    with pytest.raises(CameraInfoError, match=words):
        camera_model_from_info(info)


def test_no_model_and_no_coefficients_is_an_ideal_pinhole():
    model = camera_model_from_info(camera_info(model="", d=[]))
    np.testing.assert_allclose(model.rays([(320.0, 240.0)])[0], [0.0, 0.0, 1.0], atol=1e-12)
    with pytest.raises(CameraInfoError, match="distortion model ''"):
        camera_model_from_info(camera_info(model="", d=[0.1, 0.0, 0.0, 0.0, 0.0]))


def test_orientation_turns_the_x_axis_onto_the_ray():
    for ray in [unit(0.3, -0.2), unit(-2.0, 0.5), np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0])]:
        x, y, z, w = orientation_along(ray)
        assert x * x + y * y + z * z + w * w == pytest.approx(1.0)
        x_axis = [1 - 2 * (y * y + z * z), 2 * (x * y + z * w), 2 * (x * z - y * w)]  # the rotation's first column
        np.testing.assert_allclose(x_axis, ray, atol=1e-12)


def test_camera_info_topic_is_beside_the_image_topic():
    assert camera_info_beside("/cam/image_raw") == "/cam/camera_info"
    assert camera_info_beside("/image") == "/camera_info"
    assert camera_info_beside("/drone/front/image_rect") == "/drone/front/camera_info"


def test_calibration_reports_each_problem_once_and_follows_a_new_camera_info():
    calibration = CameraCalibration()
    assert calibration.model_for(640, 480) == (None, None)  # no CameraInfo yet: no bearings, nothing to say
    assert calibration.status == "none: no CameraInfo received"
    calibration.update(camera_info("kannala_brandt"))
    model, problem = calibration.model_for(640, 480)
    assert model is None and "kannala_brandt" in problem
    assert calibration.model_for(640, 480) == (None, None)  # said once
    calibration.update(camera_info())
    model, problem = calibration.model_for(640, 480)
    assert model is not None and problem is None and calibration.status == "published (plumb_bob)"
    model, problem = calibration.model_for(320, 240)  # another image size than the calibration's
    assert model is None and "describes 640x480 images" in problem and calibration.status.startswith("none: ")
    assert calibration.model_for(320, 240) == (None, None)
