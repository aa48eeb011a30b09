"""Head pose (yaw, pitch, roll in degrees) from landmarks.

:func:`pose_from_68`, used for every detected face, fits a mean 3-D face (the 68
iBUG 300-W points, :data:`MODEL_68`) to dlib's 68 landmarks with ``cv2.solvePnP``
(iterative Levenberg-Marquardt from the EPnP solution) under a pinhole camera whose
focal length is the image's larger side in pixels (about a 53-degree field of view
across that side; the angles barely depend on it for faces that fill a small part
of the picture) and whose principal point is the image centre, no lens distortion.
The angles are measured against the line of sight from the camera to the face
(:func:`line_of_sight`), so a face that looks into the lens is frontal wherever it
sits in the picture. The conventions are those of :class:`faceprint.types.Pose`.

:data:`MODEL_68` was built by ``benchmarks/make_face_model.py --people-step 12`` (480
LFW faces and their mirror images): dlib's 68 points of each face with the depth of
the MediaPipe face mesh under them, levelled, scaled to an eye distance of 63 mm and
averaged. Its axes: x to the image's right, y down, z away from the camera (mm), the
face looking along -z. "Pitch 0" is therefore the average viewpoint of LFW's
photographers, who mostly held the camera level with the face.

:func:`estimate_pose` is the older weak-perspective reading of five landmarks, kept
for faces that only have five points (a centre-crop face of a pre-aligned data
set): roll is exact, yaw rough, pitch poor.
"""

from __future__ import annotations

import math

import numpy as np

from ..types import Pose

EYE_DISTANCE = 63.0
NOSE_DROP = 0.546 * EYE_DISTANCE
NOSE_DEPTH = 22.0

#: the mean 3-D face of dlib's 68 points, millimetres (see the module docstring)
MODEL_68 = np.array([
    [-74.0, -36.3, 42.1],
    [-73.3, -17.0, 43.0],
    [-71.4, 2.3, 40.9],
    [-68.0, 21.4, 40.4],
    [-61.2, 39.4, 36.9],
    [-50.2, 55.3, 26.8],
    [-35.8, 68.6, 15.6],
    [-19.2, 79.0, 6.0],
    [-0.0, 82.2, 3.5],
    [19.2, 79.0, 6.0],
    [35.8, 68.6, 15.6],
    [50.2, 55.3, 26.8],
    [61.2, 39.4, 36.9],
    [68.0, 21.4, 40.4],
    [71.4, 2.3, 40.9],
    [73.3, -17.0, 43.0],
    [74.0, -36.3, 42.1],
    [-58.3, -51.2, 9.7],
    [-49.8, -59.8, -2.9],
    [-37.3, -62.9, -11.2],
    [-24.1, -61.6, -15.3],
    [-11.8, -56.8, -16.3],
    [11.8, -56.8, -16.3],
    [24.1, -61.6, -15.3],
    [37.3, -62.9, -11.2],
    [49.8, -59.8, -2.9],
    [58.3, -51.2, 9.7],
    [-0.0, -42.3, -17.0],
    [-0.0, -30.3, -23.9],
    [-0.0, -18.3, -33.1],
    [-0.0, -5.9, -37.4],
    [-14.6, 3.3, -18.0],
    [-7.6, 5.9, -20.5],
    [-0.0, 8.2, -20.6],
    [7.6, 5.9, -20.5],
    [14.6, 3.3, -18.0],
    [-43.6, -39.1, 2.5],
    [-36.0, -43.5, -2.5],
    [-26.9, -43.5, -3.5],
    [-18.9, -38.2, -1.7],
    [-27.4, -36.6, -2.5],
    [-36.3, -36.5, -0.8],
    [18.9, -38.2, -1.7],
    [26.9, -43.5, -3.5],
    [36.0, -43.5, -2.5],
    [43.6, -39.1, 2.5],
    [36.3, -36.5, -0.8],
    [27.4, -36.6, -2.5],
    [-28.9, 28.7, -0.8],
    [-18.6, 23.2, -11.2],
    [-7.9, 20.9, -18.5],
    [-0.0, 22.6, -18.8],
    [7.9, 20.9, -18.5],
    [18.6, 23.2, -11.2],
    [28.9, 28.7, -0.8],
    [19.1, 39.2, -6.1],
    [8.5, 43.7, -9.6],
    [-0.0, 44.5, -10.3],
    [-8.5, 43.7, -9.6],
    [-19.1, 39.2, -6.1],
    [-24.5, 29.0, -3.5],
    [-8.0, 26.9, -13.9],
    [-0.0, 27.6, -15.0],
    [8.0, 26.9, -13.9],
    [24.5, 29.0, -3.5],
    [8.1, 34.5, -12.3],
    [-0.0, 35.5, -13.4],
    [-8.1, 34.5, -12.3],
], dtype=np.float64)


def camera_matrix(width: int, height: int) -> np.ndarray:
    """The pinhole camera assumed for a ``width`` x ``height`` image: focal length the
    larger side (pixels), principal point the centre."""
    f = float(max(width, height))
    return np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])


def angles_from_rotation(rot: np.ndarray) -> Pose:
    """Yaw, pitch and roll (degrees, :class:`Pose` conventions) of a model-to-camera
    rotation (camera axes: x right, y down, z forward; the model faces -z), read as
    ``rot = roll @ yaw @ pitch`` (:func:`rotation_from_angles`).

    roll is the in-plane part: the screen angle of the face's left-right axis
    ``r = rot @ (1, 0, 0)``, ``atan2(-r_y, r_x)`` (counter-clockwise positive), so
    turning a photo in its plane changes roll by exactly that angle and leaves yaw and
    pitch alone. With roll undone, the face's forward axis ``f = (f_x, f_y, f_z)``
    gives yaw = atan2(f_x, -f_z) (nose towards the image's right is positive) and
    pitch = atan2(-f_y, hypot(f_x, f_z)) (nose up is positive).
    """
    right = rot @ np.array([1.0, 0.0, 0.0])
    roll = math.atan2(-right[1], right[0])
    cr, sr = math.cos(roll), math.sin(roll)
    undo_roll = np.array([[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]])
    fwd = undo_roll @ rot @ np.array([0.0, 0.0, -1.0])
    yaw = math.atan2(fwd[0], -fwd[2])
    pitch = math.atan2(-fwd[1], math.hypot(fwd[0], fwd[2]))
    return Pose(math.degrees(yaw), math.degrees(pitch), math.degrees(roll))


def rotation_from_angles(pose: Pose) -> np.ndarray:
    """The inverse of :func:`angles_from_rotation` (for tests and synthetic faces):
    pitch about the face's left-right axis, then yaw about the vertical, then roll in
    the image plane."""
    y, p, r = (math.radians(a) for a in (pose.yaw, pose.pitch, pose.roll))
    cy, sy = math.cos(y), math.sin(y)
    cp, sp = math.cos(p), math.sin(p)
    cr, sr = math.cos(r), math.sin(r)
    yaw_m = np.array([[cy, 0.0, -sy], [0.0, 1.0, 0.0], [sy, 0.0, cy]])
    pitch_m = np.array([[1.0, 0.0, 0.0], [0.0, cp, sp], [0.0, -sp, cp]])
    roll_m = np.array([[cr, sr, 0.0], [-sr, cr, 0.0], [0.0, 0.0, 1.0]])
    return roll_m @ yaw_m @ pitch_m


def pose_from_68(points: np.ndarray, width: int, height: int) -> Pose:
    """Head pose of a face with dlib's 68 ``points`` (``(68, 2)`` pixels) in an image of
    ``width`` x ``height`` pixels."""
    import cv2

    pts = np.ascontiguousarray(np.asarray(points, dtype=np.float64).reshape(68, 2))
    cam = camera_matrix(width, height)
    ok, rvec, tvec = cv2.solvePnP(MODEL_68, pts, cam, None, flags=cv2.SOLVEPNP_EPNP)
    if ok:
        ok, rvec, tvec = cv2.solvePnP(MODEL_68, pts, cam, None, rvec, tvec,
                                      useExtrinsicGuess=True,
                                      flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok or float(tvec[2, 0]) <= 0:  # degenerate points: fall back on five
        five = np.stack([pts[36:42].mean(axis=0), pts[42:48].mean(axis=0), pts[30],
                         pts[48], pts[54]])
        return estimate_pose(five)
    rot, _ = cv2.Rodrigues(rvec)
    return angles_from_rotation(line_of_sight(tvec.reshape(3)) @ rot)


def line_of_sight(t: np.ndarray) -> np.ndarray:
    """The smallest rotation taking the direction from the camera to the face (``t``)
    onto the optical axis: the pose is measured against the line of sight, so that a
    face looking into the camera reads as frontal wherever it is in the picture (a
    face near the top of a photo that looks at the lens is, against the optical axis,
    turned down by its elevation)."""
    ray = np.asarray(t, dtype=np.float64) / float(np.linalg.norm(t))
    axis = np.cross(ray, [0.0, 0.0, 1.0])
    s, c = float(np.linalg.norm(axis)), float(ray[2])
    if s < 1e-12:
        return np.eye(3)
    k = axis / s
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + s * kx + (1.0 - c) * (kx @ kx)


def estimate_pose(landmarks: np.ndarray, width: int = 0, height: int = 0) -> Pose:
    """Head pose of a face with five ``landmarks`` (``(5, 2)`` pixels), weak
    perspective: roll from the eye line, yaw from the nose tip's sideways offset
    (nose ``NOSE_DEPTH`` mm in front of the eyes), pitch from its drop below the eyes
    (median frontal drop 0.546 eye distances; pitches below about -33 degrees read as
    -33). ``width`` and ``height`` are unused (no camera is needed).
    """
    pts = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    (lx, ly), (rx, ry) = pts[0], pts[1]
    turn = math.atan2(ry - ly, rx - lx)  # clockwise on screen (image y down)
    eyes = math.hypot(rx - lx, ry - ly)
    if eyes < 1e-6:
        return Pose(0.0, 0.0, -math.degrees(turn))
    mid = (pts[0] + pts[1]) / 2.0
    c, s = math.cos(turn), math.sin(turn)
    upright = (pts - mid) @ np.array([[c, -s], [s, c]])
    nx, ny = upright[2]
    yaw = math.atan2(EYE_DISTANCE * nx, NOSE_DEPTH * eyes)
    scale = eyes / (EYE_DISTANCE * math.cos(yaw))
    reach = math.hypot(NOSE_DROP, NOSE_DEPTH)
    phase = math.atan2(NOSE_DEPTH, NOSE_DROP)
    pitch = math.degrees(math.acos(min(max(ny / (scale * reach), -1.0), 1.0)) - phase)
    return Pose(math.degrees(yaw), pitch, -math.degrees(turn))
