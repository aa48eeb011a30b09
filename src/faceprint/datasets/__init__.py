"""Face data sets on disk, read in one place.

* :mod:`faceprint.datasets.lfw`: Labeled Faces in the Wild - the pairs files
  (View 1, View 2), the people files, image paths, the face of interest of an
  LFW image and the customary centred-crop fallback box.
* :mod:`faceprint.datasets.folders`: the identity-folder layout (one folder per
  person, ``DIR/NAME/*.jpg``), which LFW's ``images/`` folder also follows.
"""
