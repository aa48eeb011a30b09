"""Head pose (yaw, pitch, roll in degrees) from five landmarks.

A weak-perspective reading of a generic face:

* roll is the angle of the line between the eye centres;
* the points are turned upright about the eyes' midpoint;
* yaw: turning the head by ``yaw`` moves the nose tip, which stands
  ``NOSE_DEPTH`` mm in front of the eyes, sideways by ``NOSE_DEPTH * sin(yaw)``
  while the eye distance shrinks by ``cos(yaw)``;
* pitch: the nose tip's drop below the eye line, in face millimetres, is
  ``NOSE_DROP*cos(pitch) - NOSE_DEPTH*sin(pitch)``. The mouth is not used: a
  broad smile raises the mouth corners as much as a bowed head lowers the
  nose, and with it the pitch of a smiling frontal face read as -50 degrees.
  The nose drop has two solutions; the one nearer to frontal is taken, so
  pitches below about -33 degrees (head bowed further) read as -33.

The constants are millimetres: an eye distance of 63 mm; the median frontal
drop of the nose tip (0.546 eye distances) measured on 249 LFW faces (the
first image of every 20th person, hog + 68-point predictor); the nose tip
22 mm in front of the eyes. The angles are estimates for an average face:
roll is exact up to landmark noise, yaw good to several degrees, pitch to
about 15 degrees (noses differ in length; five points cannot know it).
"""

from __future__ import annotations

import math

import numpy as np

from ..types import Pose

EYE_DISTANCE = 63.0
NOSE_DROP = 0.546 * EYE_DISTANCE
NOSE_DEPTH = 22.0


def estimate_pose(landmarks: np.ndarray, width: int = 0, height: int = 0) -> Pose:
    """Head pose of a face with five ``landmarks`` (``(5, 2)`` pixels).

    yaw > 0: the face turns towards the image's right; pitch > 0: it looks up;
    roll > 0: the eye line turns clockwise on screen (image y points down).
    ``width`` and ``height`` are accepted for API symmetry and unused: the
    weak-perspective model needs no camera.
    """
    pts = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    (lx, ly), (rx, ry) = pts[0], pts[1]
    roll = math.degrees(math.atan2(ry - ly, rx - lx))
    eyes = math.hypot(rx - lx, ry - ly)
    if eyes < 1e-6:
        return Pose(0.0, 0.0, roll)
    mid = (pts[0] + pts[1]) / 2.0
    c, s = math.cos(math.radians(roll)), math.sin(math.radians(roll))
    # offsets from the eyes' midpoint, turned upright (roll undone)
    upright = (pts - mid) @ np.array([[c, -s], [s, c]])
    nx, ny = upright[2]
    yaw = math.atan2(EYE_DISTANCE * nx, NOSE_DEPTH * eyes)
    scale = eyes / (EYE_DISTANCE * math.cos(yaw))  # pixels per face millimetre
    reach = math.hypot(NOSE_DROP, NOSE_DEPTH)
    phase = math.atan2(NOSE_DEPTH, NOSE_DROP)
    pitch = math.degrees(math.acos(min(max(ny / (scale * reach), -1.0), 1.0)) - phase)
    return Pose(math.degrees(yaw), pitch, roll)
