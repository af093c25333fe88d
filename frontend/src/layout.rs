//! Which tiles of the grid are in the page. The grid is virtualized: a
//! 5,000-item batch keeps only the rows near the viewport in the DOM (a few
//! dozen tiles), and a spacer of the whole grid's height keeps the page's
//! scroll bar true. Plain arithmetic, tested without a browser; the grid
//! component feeds it what it measures.

use std::ops::Range;

/// A tile is at least this wide; the grid fits as many columns as it can.
pub const MIN_TILE_PX: f64 = 150.0;
/// Space between tiles, across and down (the stylesheet's `.grid-window` gap).
pub const GAP_PX: f64 = 12.0;
/// Height of a tile's caption under its square thumbnail (the stylesheet's
/// `.caption` height).
pub const CAPTION_PX: f64 = 50.0;
/// Rows kept in the page beyond the viewport, above and below: scrolling a
/// little never shows a blank, and the thumbnails' look-ahead has tiles to see.
pub const OVERSCAN_PX: f64 = 800.0;

/// What the grid measures of itself and the window.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Viewport {
    /// The grid's width.
    pub width: f64,
    /// Where the grid's top is, from the top of the viewport (negative once
    /// scrolled past).
    pub top: f64,
    /// The viewport's height.
    pub height: f64,
}

/// Columns and row height for a grid's width.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridLayout {
    /// Tiles per row.
    pub columns: usize,
    /// Height of a row of tiles (a square thumbnail and the caption).
    pub row_px: f64,
}

/// The tiles in the page: items `items` of the batch, their first row drawn
/// `offset_px` below the grid's top.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Window {
    /// Indices of the rows of the batch to put in the page.
    pub items: Range<usize>,
    /// Where the first of them is drawn.
    pub offset_px: f64,
}

impl GridLayout {
    /// The layout of a grid `width` wide (at least one column, however narrow).
    pub fn for_width(width: f64) -> Self {
        let width = if width.is_finite() {
            width.max(0.0)
        } else {
            0.0
        };
        let columns = (((width + GAP_PX) / (MIN_TILE_PX + GAP_PX)).floor() as usize).max(1);
        let tile = ((width - GAP_PX * (columns - 1) as f64) / columns as f64).max(MIN_TILE_PX);
        GridLayout {
            columns,
            row_px: tile.floor() + CAPTION_PX,
        }
    }

    /// From one row's top to the next.
    pub fn pitch(&self) -> f64 {
        self.row_px + GAP_PX
    }

    /// Rows for `items` tiles.
    pub fn rows(&self, items: usize) -> usize {
        items.div_ceil(self.columns)
    }

    /// The whole grid's height with `items` tiles.
    pub fn height(&self, items: usize) -> f64 {
        match self.rows(items) {
            0 => 0.0,
            rows => rows as f64 * self.pitch() - GAP_PX,
        }
    }

    /// The tiles of a batch of `items` to put in the page: the rows that
    /// cross the viewport, and [`OVERSCAN_PX`] more on each side.
    pub fn window(&self, viewport: Viewport, items: usize) -> Window {
        let rows = self.rows(items);
        let top = -viewport.top - OVERSCAN_PX;
        let bottom = -viewport.top + viewport.height.max(0.0) + OVERSCAN_PX;
        if rows == 0 || !top.is_finite() || !bottom.is_finite() || bottom <= 0.0 {
            return Window::default();
        }
        let first = ((top.max(0.0) / self.pitch()).floor() as usize).min(rows);
        let last = ((bottom / self.pitch()).ceil() as usize).clamp(first, rows);
        Window {
            items: (first * self.columns).min(items)..(last * self.columns).min(items),
            offset_px: first as f64 * self.pitch(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_fit_the_width_and_tiles_stay_square() {
        // The test browser's grid (1280 px window, the details column beside it).
        let wide = GridLayout::for_width(868.0);
        assert_eq!(wide.columns, 5);
        assert_eq!(wide.row_px, 164.0 + CAPTION_PX);
        // A phone: two columns.
        assert_eq!(GridLayout::for_width(358.0).columns, 2);
        // Narrower than a tile, or not measured yet: one column of the least width.
        for odd in [0.0, 80.0, -5.0, f64::NAN] {
            let narrow = GridLayout::for_width(odd);
            assert_eq!(narrow.columns, 1, "{odd}");
            assert_eq!(narrow.row_px, MIN_TILE_PX + CAPTION_PX, "{odd}");
        }
    }

    #[test]
    fn the_height_is_the_whole_grids() {
        let layout = GridLayout::for_width(868.0);
        assert_eq!(layout.height(0), 0.0);
        assert_eq!(layout.height(1), layout.row_px);
        assert_eq!(layout.height(5), layout.row_px);
        assert_eq!(layout.height(6), 2.0 * layout.row_px + GAP_PX);
        assert_eq!(layout.height(5_000), 1_000.0 * layout.pitch() - GAP_PX);
    }

    #[test]
    fn the_window_holds_the_rows_in_view_and_the_overscan() {
        let layout = GridLayout::for_width(868.0);
        let pitch = layout.pitch();
        // At the top of a 5,000-item grid that starts 400 px down the page.
        let at_top = layout.window(
            Viewport {
                width: 868.0,
                top: 400.0,
                height: 900.0,
            },
            5_000,
        );
        assert_eq!(at_top.offset_px, 0.0);
        assert_eq!(at_top.items.start, 0);
        let rows = (500.0 + OVERSCAN_PX) / pitch;
        assert_eq!(at_top.items.end, rows.ceil() as usize * 5);

        // Scrolled deep into it: the rows around the view, the same number at any depth.
        let deep = |top: f64| {
            layout.window(
                Viewport {
                    width: 868.0,
                    top,
                    height: 900.0,
                },
                5_000,
            )
        };
        let middle = deep(-100_000.0);
        let first_row = ((100_000.0 - OVERSCAN_PX) / pitch).floor() as usize;
        assert_eq!(middle.items.start, first_row * 5);
        assert_eq!(middle.offset_px, first_row as f64 * pitch);
        let bound = ((900.0 + 2.0 * OVERSCAN_PX) / pitch).ceil() as usize + 1;
        for top in [-50_000.0, -100_000.0, -150_000.3] {
            let window = deep(top);
            assert!(window.items.len() <= bound * 5, "{top}: {window:?}");
            // The first tile drawn is above the view, the last below it.
            assert!(window.offset_px <= -top, "{top}");
            let end = window.offset_px + (window.items.len() / 5) as f64 * pitch;
            assert!(end >= -top + 900.0, "{top}");
        }

        // At the very bottom, the last (short) row is in.
        let bottom = layout.window(
            Viewport {
                width: 868.0,
                top: -(layout.height(4_998) - 900.0),
                height: 900.0,
            },
            4_998,
        );
        assert_eq!(bottom.items.end, 4_998);
        assert_eq!(bottom.items.start % 5, 0);
    }

    #[test]
    fn a_grid_out_of_view_or_empty_puts_nothing_in_the_page() {
        let layout = GridLayout::for_width(868.0);
        let far_below = Viewport {
            width: 868.0,
            top: 5_000.0,
            height: 900.0,
        };
        assert_eq!(layout.window(far_below, 100), Window::default());
        let scrolled_past = Viewport {
            width: 868.0,
            top: -1e9,
            height: 900.0,
        };
        let past = layout.window(scrolled_past, 100);
        assert!(past.items.is_empty(), "{past:?}");
        assert_eq!(
            layout.window(Viewport::default(), 0),
            Window::default(),
            "no items"
        );
        // A small batch is in the page whole.
        let small = layout.window(
            Viewport {
                width: 868.0,
                top: 300.0,
                height: 900.0,
            },
            12,
        );
        assert_eq!(small.items, 0..12);
    }
}
