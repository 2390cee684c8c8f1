import nibabel as nib
import numpy as np

from workbench.data.orientation import display_to_las, las_affine, las_slice_to_display, las_to_display, to_las


def test_round_trip_and_rot90_convention():
    vol = np.arange(3 * 4 * 5).reshape(3, 4, 5)  # (Z, H, W)
    las = display_to_las(vol)
    assert las.shape == (5, 4, 3)  # (X=W, Y=H, Z)
    assert np.array_equal(las_to_display(las), vol)
    for k in range(3):
        assert np.array_equal(las_slice_to_display(las[:, :, k]), vol[k])


def test_display_convention_anterior_top_patient_right_left():
    vol = np.zeros((1, 4, 6))
    vol[0, 0, 0] = 1  # display top-left: anterior, patient right
    las = display_to_las(vol)
    x, y, _ = np.argwhere(las == 1)[0]
    assert x == 0  # x grows towards patient left: patient right is x = 0
    assert y == las.shape[1] - 1  # y grows anterior: most anterior is the last y


def test_to_las_undoes_an_ras_reorientation():
    rng = np.random.default_rng(0)
    las = rng.normal(size=(5, 6, 7))
    aff = las_affine(0.8, 0.5, 3.0)
    img = nib.Nifti1Image(las, aff)
    ras = nib.as_closest_canonical(img)  # flips x: stored as (R, A, S)
    assert not np.array_equal(np.asanyarray(ras.dataobj), las)
    back, zooms = to_las(np.asanyarray(ras.dataobj), ras.affine)
    assert np.array_equal(back, las)
    assert np.allclose(zooms, (0.5, 0.8, 3.0))
