"""The image canvas: zoom and pan, tools, view modes, tiled repaints (offscreen Qt, small images)."""

import sys

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QColor, QMouseEvent, QNativeGestureEvent, QPointingDevice, QWheelEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from matteapp.gui.canvas import ImageCanvas, build_pyramid, halve, pyramid_shapes, update_pyramid  # noqa: E402
from matteapp.gui.imaging import (  # noqa: E402
    apply_lut,
    colormap_lut,
    grab_png,
    qimage_view,
    qimage_view_region,
    rgba_from_qimage,
    trimap_tint_lut,
)

pytestmark = pytest.mark.gui

TILE = 64


def coded_photo(height: int, width: int) -> np.ndarray:
    """Every pixel's colour names it: R = x, G = y (both < 256 here), B = 77."""
    y, x = np.mgrid[:height, :width]
    return np.stack([x, y, np.full_like(x, 77)], axis=-1).astype(np.uint8)


def gray_photo(height: int, width: int, value: int = 128) -> np.ndarray:
    return np.full((height, width, 3), value, dtype=np.uint8)


@pytest.fixture
def canvas(qtbot):
    c = ImageCanvas(tile_size=TILE)
    c.frame_budget_ms = None  # whole frames at once: these tests compare pixels
    qtbot.addWidget(c)
    c.resize(400, 300)
    c.show()
    qtbot.waitExposed(c)
    return c


def grab(canvas: ImageCanvas) -> np.ndarray:
    """The viewport as rendered now, H×W×4 RGBA."""
    return rgba_from_qimage(canvas.viewport().grab().toImage())


def pixel_at(canvas: ImageCanvas, x: float, y: float, shot: np.ndarray | None = None) -> np.ndarray:
    """RGB on screen at photo point (x, y)."""
    shot = grab(canvas) if shot is None else shot
    p = canvas.map_from_image(x, y)
    return shot[int(p.y()), int(p.x()), :3].astype(int)


def point(p) -> QPointF:
    return QPointF(*p) if isinstance(p, tuple) else QPointF(p)


def send_mouse(canvas, kind, pos, button=Qt.MouseButton.LeftButton, buttons=None, modifiers=Qt.KeyboardModifier.NoModifier):
    if buttons is None:
        buttons = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseButtonRelease else button
    pos = point(pos)
    event = QMouseEvent(kind, pos, QPointF(canvas.viewport().mapToGlobal(pos.toPoint())), button, buttons, modifiers)
    QApplication.sendEvent(canvas.viewport(), event)


def drag(canvas, points, button=Qt.MouseButton.LeftButton):
    send_mouse(canvas, QEvent.Type.MouseButtonPress, points[0], button)
    for p in points[1:]:
        send_mouse(canvas, QEvent.Type.MouseMove, p, Qt.MouseButton.NoButton, button)
    send_mouse(canvas, QEvent.Type.MouseButtonRelease, points[-1], button)


def record(signal) -> list:
    seen = []
    signal.connect(lambda *args: seen.append(args))
    return seen


# ------------------------------------------------------------------------------------------- pyramid


def test_pyramid_shapes_and_halving_average_2x2_blocks_with_odd_edges():
    assert pyramid_shapes(1000, 700, 256) == [(1000, 700), (500, 350), (250, 175)]
    src = np.arange(5 * 7, dtype=np.float32).reshape(5, 7)
    half = halve(src)
    assert half.shape == (3, 4)
    assert half[0, 0] == pytest.approx(src[:2, :2].mean())
    assert half[1, 3] == pytest.approx(src[2:4, 6].mean())  # odd last column: vertical pairs only
    assert half[2, 1] == pytest.approx(src[4, 2:4].mean())  # odd last row: horizontal pairs only
    assert half[2, 3] == src[4, 6]
    rgb = halve(coded_photo(9, 9))
    assert rgb.shape == (5, 5, 3) and rgb.dtype == np.uint8


def test_update_pyramid_matches_a_full_rebuild():
    rng = np.random.default_rng(0)
    trimap = rng.choice(np.array([0, 128, 255], np.uint8), size=(301, 517))
    levels = build_pyramid(trimap, 32)
    for x, y, w, h in [(0, 0, 5, 5), (511, 290, 6, 11), (100, 37, 64, 200), (33, 0, 1, 301)]:
        trimap[y : y + h, x : x + w] = rng.choice(np.array([0, 128, 255], np.uint8), size=(h, w))
        update_pyramid(levels, x, y, x + w, y + h)
        for got, want in zip(levels, build_pyramid(trimap, 32)):
            np.testing.assert_array_equal(got, want)
    alpha = rng.random((77, 130)).astype(np.float32)
    levels = build_pyramid(alpha, 16, dtype=np.uint8)
    assert levels[0] is alpha and all(level.dtype == np.uint8 for level in levels[1:])
    alpha[10:20, 100:130] = 0.25
    update_pyramid(levels, 100, 10, 130, 20)
    for got, want in zip(levels[1:], build_pyramid(alpha, 16, dtype=np.uint8)[1:]):
        np.testing.assert_array_equal(got, want)


# ------------------------------------------------------------------------------------------- imaging


def test_qimage_views_share_memory_and_keep_the_array_alive(qapp):
    array = coded_photo(20, 30)
    references = sys.getrefcount(array)
    image = qimage_view(array)
    assert sys.getrefcount(array) > references  # the QImage holds on to the buffer
    array[3, 4] = (1, 2, 3)
    assert image.pixelColor(4, 3).getRgb()[:3] == (1, 2, 3)  # no copy was made
    region = qimage_view_region(array, 5, 2, 10, 8)
    assert region.pixelColor(0, 0).getRgb()[:3] == (5, 2, 77)
    del array
    assert image.pixelColor(29, 19).getRgb()[:3] == (29, 19, 77)  # still valid: the QImage holds the array
    corner = qimage_view_region(coded_photo(20, 30), 25, 15, 3, 5)  # last rows, short of the right edge: copied
    assert rgba_from_qimage(corner)[4, 2, :3].tolist() == [27, 19, 77]


def test_luts():
    lut = trimap_tint_lut(0.5)
    assert lut.shape == (256, 4) and set(lut[[0, 128, 255], 3]) == {128}
    assert (lut[:, :3] <= lut[:, 3:4]).all()  # premultiplied
    cmap = colormap_lut()
    assert cmap.shape == (256, 3) and not np.array_equal(cmap[0], cmap[255])
    values = np.array([[0, 255], [128, 7]], np.uint8)
    assert apply_lut(values, lut).shape == (2, 2, 4)
    np.testing.assert_array_equal(apply_lut(values, lut)[1, 0], lut[128])
    np.testing.assert_array_equal(apply_lut(values, cmap)[0, 1], cmap[255])


# ----------------------------------------------------------------------------------------- zoom, pan


def test_fit_then_actual_size(canvas, qtbot):
    seen = record(canvas.zoomChanged)
    canvas.set_photo(gray_photo(1200, 1600))
    assert canvas.zoom < 1
    assert canvas.zoom == pytest.approx(min(400 / 1600, 300 / 1200))
    top_left, bottom_right = canvas.map_from_image(0, 0), canvas.map_from_image(1600, 1200)
    assert -1 <= top_left.x() and -1 <= top_left.y() and bottom_right.x() <= 401 and bottom_right.y() <= 301
    canvas.zoom_actual()
    assert canvas.zoom == 1.0 and seen[-1] == (1.0,)
    canvas.zoom_in()
    assert canvas.zoom == pytest.approx(2**0.5)
    canvas.zoom_out()
    canvas.zoom_out()
    assert canvas.zoom == pytest.approx(2**-0.5)
    canvas.resize(600, 500)  # no longer fitted: the zoom stays
    assert canvas.zoom == pytest.approx(2**-0.5)
    canvas.zoom_to_fit()
    canvas.resize(800, 600)  # fitted: refits
    assert canvas.zoom == pytest.approx(min(800 / 1600, 600 / 1200))


def wheel(canvas, pos, notches):
    event = QWheelEvent(
        point(pos), QPointF(canvas.viewport().mapToGlobal(QPoint(*pos))), QPoint(0, 0), QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False,
    )
    QApplication.sendEvent(canvas.viewport(), event)


def test_wheel_zoom_keeps_the_point_under_the_cursor(canvas):
    canvas.set_photo(coded_photo(200, 250))
    canvas.set_zoom(2.0)
    cursor = (123, 87)
    under = canvas.map_to_image(QPointF(*cursor))
    before = pixel_at(canvas, under.x(), under.y())
    for notches in (1, 1, 2, -1, 3):
        zoom = canvas.zoom
        wheel(canvas, cursor, notches)
        assert canvas.zoom == pytest.approx(zoom * 2 ** (notches / 4))
        now = canvas.map_from_image(under.x(), under.y())
        assert abs(now.x() - cursor[0]) <= 1 and abs(now.y() - cursor[1]) <= 1
        # independent of the canvas's own mapping: the photo pixel drawn under the cursor is the same one
        shot = grab(canvas)
        r, g, _ = shot[cursor[1], cursor[0], :3].astype(int)
        assert abs(r - before[0]) <= 1 and abs(g - before[1]) <= 1


def test_pinch_gesture_zooms_about_its_centre(canvas):
    canvas.set_photo(coded_photo(200, 250))
    canvas.set_zoom(1.5)
    centre = QPointF(200, 100)
    under = canvas.map_to_image(centre)
    device = QPointingDevice.primaryPointingDevice()
    event = QNativeGestureEvent(Qt.NativeGestureType.ZoomNativeGesture, device, 2, centre, centre, centre, 0.5, QPointF())
    QApplication.sendEvent(canvas.viewport(), event)
    assert canvas.zoom == pytest.approx(2.25)
    now = canvas.map_from_image(under.x(), under.y())
    assert abs(now.x() - centre.x()) <= 1 and abs(now.y() - centre.y()) <= 1


def test_brush_drag_emits_stroke_in_image_coordinates_at_zoom_2(canvas):
    canvas.set_photo(coded_photo(150, 200))
    canvas.set_zoom(2.0)
    canvas.set_tool("brush")
    started, moved, finished = record(canvas.strokeStarted), record(canvas.strokeMoved), record(canvas.strokeFinished)
    shot = grab(canvas)
    path = [(101, 61), (121, 71), (141, 91)]
    drag(canvas, path)
    assert len(started) == 1 and len(finished) == 1 and len(moved) == 2
    points = started + moved
    for (vx, vy), (x, y) in zip(path, points):
        r, g, _ = shot[vy, vx, :3]
        assert (int(x), int(y)) == (r, g)  # the photo pixel drawn there
    # 20 viewport px at 200 % are 10 photo px
    assert points[1][0] - points[0][0] == pytest.approx(10) and points[1][1] - points[0][1] == pytest.approx(5)


def test_middle_drag_and_space_drag_pan_without_painting(canvas, qtbot):
    canvas.set_photo(coded_photo(150, 200))
    canvas.set_zoom(2.0)
    canvas.set_tool("brush")
    strokes = record(canvas.strokeStarted) + record(canvas.strokeMoved)
    origin = canvas.map_from_image(0, 0)
    drag(canvas, [(200, 150), (180, 140), (170, 110)], Qt.MouseButton.MiddleButton)
    moved = canvas.map_from_image(0, 0) - origin
    assert (moved.x(), moved.y()) == (-30, -40)
    canvas.setFocus()
    qtbot.keyPress(canvas, Qt.Key.Key_Space)
    drag(canvas, [(200, 150), (210, 150)])
    qtbot.keyRelease(canvas, Qt.Key.Key_Space)
    moved = canvas.map_from_image(0, 0) - origin
    assert (moved.x(), moved.y()) == (-20, -40)
    canvas.set_tool("none")  # left-drag pans with no tool
    drag(canvas, [(200, 150), (200, 160)])
    moved = canvas.map_from_image(0, 0) - origin
    assert (moved.x(), moved.y()) == (-20, -30)
    assert strokes == []


def test_lasso_rect_and_fill_tools(canvas, qtbot):
    canvas.set_photo(gray_photo(150, 200))
    canvas.set_zoom(2.0)
    polygons, rects, fills = record(canvas.polygonFinished), record(canvas.rectFinished), record(canvas.fillClicked)
    at = canvas.map_from_image

    canvas.set_tool("lasso")
    drag(canvas, [at(10, 10), at(40, 10), at(40, 30), at(12, 30)])  # freehand
    assert len(polygons) == 1
    assert polygons[0][0][0] == pytest.approx((10, 10), abs=0.5)
    assert polygons[0][0][-1] == pytest.approx((12, 30), abs=0.5)

    for x, y in [(50, 50), (80, 50), (80, 70)]:  # click, click, click, then Enter
        drag(canvas, [at(x, y)])
    assert len(polygons) == 1
    canvas.setFocus()
    qtbot.keyPress(canvas, Qt.Key.Key_Return)
    assert len(polygons) == 2
    np.testing.assert_allclose(polygons[1][0], [(50, 50), (80, 50), (80, 70)], atol=0.5)

    for x, y in [(5, 5), (9, 5)]:
        drag(canvas, [at(x, y)])
    qtbot.keyPress(canvas, Qt.Key.Key_Escape)  # cancels
    drag(canvas, [at(1, 1)])
    send_mouse(canvas, QEvent.Type.MouseButtonDblClick, at(1, 1))
    assert len(polygons) == 2  # a fresh polygon of one point is not a polygon

    canvas.set_tool("rect")
    drag(canvas, [at(60, 40), at(30, 20), at(20.25, 10.5)])
    assert rects == [((20, 10, 40, 30),)]  # the pixels the drag covers
    canvas.set_tool("fill")
    drag(canvas, [at(33.5, 44.5)])
    assert len(fills) == 1 and fills[0] == pytest.approx((33.5, 44.5))


# -------------------------------------------------------------------------------------------- views


def test_trimap_view_tints_each_region(canvas):
    canvas.set_photo(gray_photo(90, 300))
    trimap = np.zeros((90, 300), np.uint8)
    trimap[:, 100:200] = 128
    trimap[:, 200:] = 255
    canvas.set_trimap(trimap)
    canvas.set_overlay_opacity(0.5)
    canvas.set_view_mode("trimap")
    shot = grab(canvas)
    lut = trimap_tint_lut(1.0)
    for x, value in ((50, 0), (150, 128), (250, 255)):
        expected = 0.5 * 128 + 0.5 * lut[value, :3].astype(float)
        assert np.abs(pixel_at(canvas, x, 45, shot) - expected).max() <= 3
    canvas.set_view_mode("photo")
    assert (pixel_at(canvas, 250, 45) == 128).all()


def test_alpha_cutout_and_split_views(canvas):
    canvas.set_photo(coded_photo(100, 200))
    alpha = np.zeros((50, 100), np.float32)  # a preview: half the photo's size
    alpha[:, 50:] = 1.0
    canvas.set_alpha(alpha, work_size=(50, 100))

    canvas.set_view_mode("alpha")
    shot = grab(canvas)
    assert (pixel_at(canvas, 80, 50, shot) == 0).all() and (pixel_at(canvas, 120, 50, shot) == 255).all()

    canvas.set_view_mode("cutout")
    shot = grab(canvas)
    assert pixel_at(canvas, 150, 50, shot).tolist() == [150, 50, 77]  # opaque: the photo
    a, b = canvas.map_from_image(10, 20), canvas.map_from_image(80, 80)
    transparent = shot[int(a.y()) : int(b.y()), int(a.x()) : int(b.x()), :3].reshape(-1, 3)
    assert {tuple(c) for c in transparent} == {(204, 204, 204), (153, 153, 153)}  # both checker squares
    canvas.set_backdrop("black")
    assert pixel_at(canvas, 40, 50).tolist() == [0, 0, 0]
    canvas.set_backdrop(QColor(10, 200, 30))
    assert pixel_at(canvas, 40, 50).tolist() == [10, 200, 30]

    canvas.set_view_mode("split")  # photo left of the divider, cut-out right of it
    canvas.set_split_position(1.0)
    assert pixel_at(canvas, 40, 50).tolist() == [40, 50, 77]
    canvas.set_split_position(0.0)
    assert pixel_at(canvas, 40, 50).tolist() == [10, 200, 30]


def test_split_divider_can_be_dragged(canvas):
    canvas.set_photo(gray_photo(100, 200))
    canvas.set_view_mode("split")
    canvas.set_tool("brush")
    seen, strokes = record(canvas.splitPositionChanged), record(canvas.strokeStarted)
    x = canvas.split_position * canvas.viewport().width()
    send_mouse(canvas, QEvent.Type.MouseMove, (x, 100), Qt.MouseButton.NoButton)
    drag(canvas, [(x + 2, 100), (300, 100)])
    assert canvas.split_position == pytest.approx(300 / canvas.viewport().width())
    assert seen and strokes == []


def test_progressive_alpha_updates_only_the_changed_tiles(canvas):
    canvas.set_photo(coded_photo(128, 192))
    canvas.set_zoom(1.0)
    alpha = np.zeros((128, 192), np.float32)
    canvas.set_alpha(alpha)
    canvas.set_view_mode("alpha")
    grab(canvas)
    before = canvas.cached_tiles("alpha")
    assert len(before) == 6
    alpha[70:90, 140:160] = 1.0  # inside tile (column 2, row 1) of level 0
    canvas.update_alpha_region(140, 70, 20, 20)
    assert pixel_at(canvas, 150, 80).tolist() == [255, 255, 255]
    after = canvas.cached_tiles("alpha")
    assert after[(0, 2, 1)] != before[(0, 2, 1)]
    assert {k: v for k, v in after.items() if k != (0, 2, 1)} == {k: v for k, v in before.items() if k != (0, 2, 1)}


def test_trimap_edit_rerenders_only_the_touched_tiles_and_their_coarser_levels(canvas):
    canvas.set_photo(gray_photo(300, 400))
    trimap = np.zeros((300, 400), np.uint8)
    canvas.set_trimap(trimap)
    canvas.set_view_mode("trimap")
    canvas.resize(500, 400)

    def show_from_origin(zoom):
        canvas.set_zoom(zoom)
        canvas.pan_by(*(QPointF(0, 0) - canvas.map_from_image(0, 0)).toTuple())
        grab(canvas)

    for zoom in (0.25, 0.5, 1.0):  # the whole photo at levels 2, 1 and 0 → all their tiles cached
        show_from_origin(zoom)
    before = canvas.cached_tiles("trimap")
    assert {level for level, _, _ in before} == {0, 1, 2}
    trimap[70:90, 140:150] = 255
    canvas.update_trimap_region(140, 70, 10, 20)
    after = canvas.cached_tiles("trimap")
    touched = {(0, 2, 1), (1, 1, 0), (2, 0, 0)}  # the tile over (140..150, 70..90) at each level
    assert touched <= set(before)
    assert set(after) == set(before) - touched
    assert all(after[k] == before[k] for k in after)  # the other tiles were not re-rendered
    shot = grab(canvas)
    fg = 0.5 * 128 + 0.5 * trimap_tint_lut(1.0)[255, :3].astype(float)
    assert np.abs(pixel_at(canvas, 145, 80, shot) - fg).max() <= 3
    assert (0, 2, 1) in canvas.cached_tiles("trimap")  # re-rendered for this frame


def routing_fixture(canvas):
    canvas.set_photo(gray_photo(96, 160))
    keep = (np.add.outer(np.arange(3), np.arange(5)) % 2).astype(bool)  # 3×5 tokens of a half-size run
    canvas.set_routing([keep], [keep * 0.9], (3, 5), work_size=(48, 80))
    canvas.set_routing_display("block", 0)
    canvas.set_overlay_opacity(1.0)
    canvas.set_view_mode("routing")
    canvas.set_zoom(1.5)  # clear of the legend
    return keep


def test_routing_overlay_colours_routed_and_local_tokens(canvas):
    keep = routing_fixture(canvas)
    cmap = colormap_lut()
    shot = grab(canvas)
    for row in range(3):
        for col in range(5):
            got = pixel_at(canvas, col * 32 + 16, row * 32 + 16, shot)  # a token is 16 work px = 32 photo px
            assert np.abs(got - cmap[255 if keep[row, col] else 0]).max() <= 2
    # the legend's swatches in the bottom-left corner of the viewport: routed, then not routed
    bar_row = canvas.viewport().height() - 12 - 58 + 24 + 6
    assert np.abs(shot[bar_row, 28, :3] - cmap[255]).max() <= 1
    assert np.abs(shot[bar_row, 148, :3] - cmap[0]).max() <= 1

    canvas.set_routing_display("block", 0, soft=True)  # 0.9 → one step below the top of the map
    assert np.abs(pixel_at(canvas, 48, 16) - cmap[round(0.9 * 255)]).max() <= 2


def test_routing_arrives_live_and_repaints(canvas):
    keep = routing_fixture(canvas)
    canvas.set_routing_display("density")
    cmap = colormap_lut()
    assert np.abs(pixel_at(canvas, 16, 16) - cmap[0]).max() <= 2  # token (0, 0) not routed by block 1
    canvas.set_routing([keep, ~keep], None, (3, 5), work_size=(48, 80))  # block 2 arrives
    assert np.abs(pixel_at(canvas, 16, 16) - cmap[128]).max() <= 2  # routed by one of two blocks
    canvas.set_routing_display("block", 1)
    assert np.abs(pixel_at(canvas, 16, 16) - cmap[255]).max() <= 2


def test_token_hover_reports_the_token_under_the_cursor(canvas):
    routing_fixture(canvas)
    seen = record(canvas.tokenHovered)
    hovered = record(canvas.hovered)
    canvas.set_zoom(2.0)
    for x, y, token in [(100, 70, (2, 3)), (31.5, 5, (0, 0)), (32.5, 5, (0, 1)), (-5, 5, (-1, -1))]:
        send_mouse(canvas, QEvent.Type.MouseMove, canvas.map_from_image(x, y), Qt.MouseButton.NoButton, Qt.MouseButton.NoButton)
        assert seen[-1] == token
        assert hovered[-1] == pytest.approx((x, y), abs=0.01)
    send_mouse(canvas, QEvent.Type.MouseMove, canvas.map_from_image(100, 70), Qt.MouseButton.NoButton, Qt.MouseButton.NoButton)
    canvas.set_view_mode("photo")
    assert seen[-1] == (-1, -1)


def test_token_grid_only_when_cells_are_large_enough(canvas):
    routing_fixture(canvas)
    canvas.set_overlay_opacity(0.0)
    canvas.set_zoom(2.0, QPointF(0, 0))
    canvas.pan_by(*(QPointF(10, 10) - canvas.map_from_image(0, 0)).toTuple())
    plain = grab(canvas)
    canvas.set_show_token_grid(True)
    lines = grab(canvas)
    x = round(canvas.map_from_image(32, 0).x())
    assert (lines[80:130, x, :3] != plain[80:130, x, :3]).all()
    assert (lines[80:130, x + 5, :3] == plain[80:130, x + 5, :3]).all()
    canvas.set_zoom(0.2)  # a token is 6.4 px: no grid
    canvas.set_show_token_grid(False)
    plain = grab(canvas)
    canvas.set_show_token_grid(True)
    assert (grab(canvas) == plain).all()


def test_brush_cursor_shows_the_footprint(canvas):
    canvas.set_photo(gray_photo(150, 200))
    canvas.set_zoom(2.0)
    canvas.set_tool("brush")
    canvas.set_brush_radius(10)
    centre = canvas.map_from_image(100, 75)
    send_mouse(canvas, QEvent.Type.MouseMove, centre, Qt.MouseButton.NoButton, Qt.MouseButton.NoButton)
    shot = grab(canvas)
    cx, cy = round(centre.x()), round(centre.y())
    ring = shot[cy, cx + 17 : cx + 24, :3].astype(int)  # 10 photo px at 200 % = 20 screen px
    assert ring.min() < 100 and ring.max() > 150  # dark outline and light line: visible on any photo
    assert (shot[cy, cx + 5, :3] == 128).all() and (shot[cy, cx + 30, :3] == 128).all()


def test_progressive_tiles_within_a_frame_budget(canvas, qtbot):
    canvas.set_photo(coded_photo(256, 256))
    canvas.set_zoom(1.0)
    complete = grab(canvas)
    canvas.set_photo(coded_photo(256, 256))  # empty cache again
    canvas.set_zoom(1.0)
    canvas.frame_budget_ms = 0.0  # one tile per frame; the rest from a coarser cached level
    first = grab(canvas)
    assert 1 <= len([k for k in canvas.cached_tiles("photo") if k[0] == 0]) < 16
    assert (first[..., :3] != complete[..., :3]).any()
    # the canvas schedules each further frame itself; the timeout only ends a hang (the CPU is shared)
    qtbot.waitUntil(lambda: len([k for k in canvas.cached_tiles("photo") if k[0] == 0]) == 16, timeout=60_000)
    assert (grab(canvas) == complete).all()


def test_clear_and_argument_checks(canvas):
    with pytest.raises(RuntimeError):
        canvas.set_trimap(np.zeros((4, 4), np.uint8))
    canvas.set_photo(gray_photo(40, 60))
    with pytest.raises(ValueError):
        canvas.set_trimap(np.zeros((40, 61), np.uint8))
    with pytest.raises(ValueError):
        canvas.set_alpha(np.zeros((20, 30), np.float32), work_size=(30, 20))
    with pytest.raises(ValueError):
        canvas.set_view_mode("negative")
    with pytest.raises(ValueError):
        canvas.set_overlay_opacity(1.5)
    canvas.clear()
    assert canvas.image_size is None
    assert grab(canvas)[100, 100, :3].tolist() == [48, 48, 52]


@pytest.mark.parametrize("zoom", [0.37, 0.73, 1.3, 2.7])
def test_tiles_meet_without_seams_at_fractional_zooms(canvas, zoom):
    canvas.set_photo(gray_photo(200, 300, value=200))
    canvas.set_zoom(zoom)
    shot = grab(canvas)
    a, b = canvas.map_from_image(0, 0), canvas.map_from_image(300, 200)
    inside = shot[max(0, int(a.y()) + 2) : min(300, int(b.y()) - 2), max(0, int(a.x()) + 2) : min(400, int(b.x()) - 2), :3]
    assert inside.size and (inside == 200).all()


def test_grab_png_writes_a_screenshot(canvas, tmp_path):
    from PySide6.QtGui import QImage

    canvas.set_photo(gray_photo(50, 60))
    path = grab_png(canvas, tmp_path / "canvas.png")
    image = QImage(str(path))
    assert (image.width(), image.height()) == (400, 300)
