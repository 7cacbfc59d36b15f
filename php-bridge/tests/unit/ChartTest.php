<?php
use PHPUnit\Framework\TestCase;

require_once __DIR__ . '/wordpress-http-stubs.php';
require_once dirname( __DIR__, 2 ) . '/gmail-relay-bridge/includes/class-gmail-relay-bridge-status-client.php';
require_once dirname( __DIR__, 2 ) . '/gmail-relay-bridge/includes/class-gmail-relay-bridge-chart.php';

final class ChartTest extends TestCase {

	const TOKEN = 'read-token-0123456789abcdefghijklmnop';

	protected function setUp(): void {
		Grb_Fake_WordPress::reset();
	}

	private static function fixture() {
		return file_get_contents( dirname( __DIR__ ) . '/fixtures/stats-48h.json' );
	}

	/** Heights of the <rect class="KIND"> bars, in order. */
	private static function heights( $svg, $kind ) {
		preg_match_all( '/<rect class="' . $kind . '" [^>]*height="([0-9.]+)"/', $svg, $m );
		return array_map( 'floatval', $m[1] );
	}

	public function test_the_relays_answer_is_read_into_hourly_buckets() {
		$buckets = Gmail_Relay_Bridge_Chart::from_json( self::fixture() );
		$this->assertCount( 48, $buckets );
		$this->assertSame( gmmktime( 10, 0, 0, 12, 1, 2026 ), $buckets[0]['hour'] );
		$this->assertSame( array( 'hour' => gmmktime( 9, 0, 0, 12, 3, 2026 ), 'sent' => 10, 'failed' => 0, 'held' => 3, 'queued' => 13 ), $buckets[47] );
	}

	public function test_bars_scale_to_the_busiest_hour_on_a_round_axis() {
		$svg  = Gmail_Relay_Bridge_Chart::svg( Gmail_Relay_Bridge_Chart::from_json( self::fixture() ), 'c', 'Mail' );
		$plot = Gmail_Relay_Bridge_Chart::HEIGHT - Gmail_Relay_Bridge_Chart::TOP - Gmail_Relay_Bridge_Chart::BOTTOM;
		// The busiest hour has 10 sent + 3 held = 13: the axis tops at 20.
		$this->assertSame( 20, Gmail_Relay_Bridge_Chart::axis_maximum( 13 ) );
		$this->assertSame( 1, Gmail_Relay_Bridge_Chart::axis_maximum( 0 ) );
		$this->assertSame( 100, Gmail_Relay_Bridge_Chart::axis_maximum( 51 ) );
		$this->assertStringContainsString( '>20</text>', $svg );
		$sent = self::heights( $svg, 'sent' );
		$this->assertSame( array( 2, 5, 10, 2, 5, 10 ), array_map( static function ( $h ) use ( $plot ) { return (int) round( $h / $plot * 20 ); }, $sent ) );
		$this->assertEqualsWithDelta( $plot / 2, max( $sent ), 0.05 );
		$this->assertEqualsWithDelta( $plot / 20, self::heights( $svg, 'failed' )[0], 0.05 );
		$this->assertEqualsWithDelta( $plot * 3 / 20, self::heights( $svg, 'held' )[0], 0.05 );
		$this->assertStringContainsString( '2026-12-03 09:00 UTC: 10 sent, 0 failed, 3 held, 13 accepted', $svg );
		$this->assertStringContainsString( '<desc id="c-desc">From 2026-12-01 10:00 UTC to 2026-12-03 09:00 UTC: 34 sent, 1 failed, 3 held, 38 accepted.</desc>', $svg );
	}

	public function test_it_is_labelled_for_screen_readers_and_readable_without_colour() {
		$svg = Gmail_Relay_Bridge_Chart::svg( Gmail_Relay_Bridge_Chart::from_json( self::fixture() ), 'c', 'Mail' );
		$this->assertStringContainsString( 'role="img" aria-labelledby="c-title c-desc"', $svg );
		$this->assertStringContainsString( '<title id="c-title">Mail</title>', $svg );
		$this->assertStringContainsString( 'fill="url(#c-hatch)"', $svg );
		$this->assertStringContainsString( 'failed (hatched)', $svg );
		$this->assertStringContainsString( 'held (dotted)', $svg );
		$this->assertStringContainsString( '<table class="screen-reader-text">', $svg );
		$this->assertStringContainsString( '<tr><th scope="row">2026-12-03 09:00 UTC</th><td>10</td><td>0</td><td>3</td><td>13</td></tr>', $svg );
		$this->assertSame( 48, substr_count( $svg, '<tr><th scope="row">' ) );
	}

	public function test_zero_data_says_so_and_draws_no_bars() {
		$body = json_encode( array( 'buckets' => array( array( 'hour' => '2026-12-03T08:00:00Z', 'sent' => 0, 'failed' => 0, 'held' => 0, 'queued' => 0 ) ) ) );
		$svg  = Gmail_Relay_Bridge_Chart::svg( Gmail_Relay_Bridge_Chart::from_json( $body ), 'z', 'Mail' );
		$this->assertSame( array(), self::heights( $svg, 'sent' ) );
		$this->assertStringContainsString( 'No mail sent, failed or held in this period', $svg );
		$this->assertStringContainsString( '<desc id="e-desc">No data.</desc>', Gmail_Relay_Bridge_Chart::svg( array(), 'e', 'Mail' ) );
	}

	public function test_labels_are_escaped_and_hostile_buckets_dropped() {
		$svg = Gmail_Relay_Bridge_Chart::svg( array(), 'x"><script>', '<script>alert(1)</script> & "q"' );
		$this->assertStringNotContainsString( '<script>', $svg );
		$this->assertStringContainsString( '&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot;', $svg );
		$this->assertStringContainsString( 'id="xscript"', $svg, 'the id keeps only safe characters' );
		$body    = json_encode(
			array(
				'buckets' => array(
					array( 'hour' => '<b>2026</b>', 'sent' => 1 ),
					array( 'hour' => '2026-12-03T08:30:00Z', 'sent' => 1 ),
					array( 'hour' => '2026-12-03T08:00:00Z', 'sent' => -5, 'failed' => '7', 'held' => 1.5, 'queued' => 2 ),
					'not an object',
				),
			)
		);
		$buckets = Gmail_Relay_Bridge_Chart::from_json( $body );
		$this->assertSame( array( array( 'hour' => gmmktime( 8, 0, 0, 12, 3, 2026 ), 'sent' => 0, 'failed' => 0, 'held' => 0, 'queued' => 2 ) ), $buckets );
		$this->assertNull( Gmail_Relay_Bridge_Chart::from_json( '<html>404</html>' ) );
		$this->assertNull( Gmail_Relay_Bridge_Chart::from_json( '{"error":"authentication required"}' ) );
		$many = json_encode( array( 'buckets' => array_fill( 0, 5000, array( 'hour' => '2026-12-03T08:00:00Z', 'sent' => 1 ) ) ) );
		$this->assertCount( Gmail_Relay_Bridge_Chart::MAX_BUCKETS, Gmail_Relay_Bridge_Chart::from_json( $many ) );
	}

	private function widget( array $constants ) {
		$box      = new Gmail_Relay_Bridge_Secret_Box( 'secret keys of this site' );
		$settings = Gmail_Relay_Bridge_Settings::resolve( grb_constants( $constants ), array(), $box );
		return Gmail_Relay_Bridge_Chart::widget( $settings );
	}

	public function test_the_widget_fetches_stats_the_way_it_fetches_status_and_caches_the_answer() {
		$fixture                    = self::fixture();
		Grb_Fake_WordPress::$answer = static function ( $url ) use ( $fixture ) {
			return array( 'response' => array( 'code' => 200 ), 'body' => $fixture );
		};
		$html = $this->widget( array( 'GMAIL_RELAY_READ_TOKEN' => self::TOKEN, 'GMAIL_RELAY_STATUS_URL' => 'http://127.0.0.1:8025/' ) );
		$this->assertStringContainsString( 'id="gmail-relay-bridge-chart-48h"', $html );
		$this->assertStringContainsString( '34 sent, 1 failed, 3 held, 38 accepted', $html );
		$this->assertCount( 1, Grb_Fake_WordPress::$requests );
		$request = Grb_Fake_WordPress::$requests[0];
		$this->assertSame( 'http://127.0.0.1:8025/api/stats?hours=48', $request['url'] );
		$this->assertSame( 'wp_safe_remote_get', $request['function'] );
		$this->assertSame( 'Bearer ' . self::TOKEN, $request['args']['headers']['Authorization'] );
		$this->assertSame( 0, $request['args']['redirection'] );
		$this->assertTrue( $request['host_allowed'] );
		$this->assertContains( 8025, $request['ports'] );
		$this->assertFalse( $request['other_host_allowed'] );
		$this->assertSame( array(), Grb_Fake_WordPress::$filters, 'the filters outlive the request' );
		// The second widget within a minute uses the transient.
		$this->assertSame( $html, $this->widget( array( 'GMAIL_RELAY_READ_TOKEN' => self::TOKEN, 'GMAIL_RELAY_STATUS_URL' => 'http://127.0.0.1:8025/' ) ) );
		$this->assertCount( 1, Grb_Fake_WordPress::$requests );
	}

	public function test_an_older_relay_without_stats_leaves_a_sentence_not_a_broken_widget() {
		Grb_Fake_WordPress::$answer = static function ( $url ) {
			return array( 'response' => array( 'code' => 404 ), 'body' => 'not found' );
		};
		$html = $this->widget( array( 'GMAIL_RELAY_STATUS_URL' => 'http://127.0.0.1:8025' ) );
		$this->assertStringContainsString( 'did not send its hourly counts', $html );
		$this->assertStringNotContainsString( '<svg', $html );
		$this->assertCount( 1, Grb_Fake_WordPress::$requests );
		$this->assertSame( '', $this->widget( array( 'GMAIL_RELAY_STATUS_URL' => '' ) ), 'no status URL: nothing asked, nothing shown' );
		$this->assertCount( 1, Grb_Fake_WordPress::$requests );
	}
}
