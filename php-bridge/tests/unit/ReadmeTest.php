<?php
use PHPUnit\Framework\TestCase;

/**
 * readme.txt in the WordPress.org format, and in step with the plugin's header.
 */
final class ReadmeTest extends TestCase {

	private static function plugin_dir() {
		return dirname( __DIR__, 2 ) . '/gmail-relay-bridge';
	}

	/**
	 * @return array{title:string,headers:array<string,string>,short:string,sections:string[]}
	 */
	private static function readme() {
		$text = file_get_contents( self::plugin_dir() . '/readme.txt' );
		$lines = preg_split( '/\r?\n/', $text );
		$title = preg_match( '/^=== (.+) ===$/', $lines[0], $m ) ? $m[1] : '';
		$headers = array();
		$i = 1;
		for ( ; $i < count( $lines ) && '' !== trim( $lines[ $i ] ); $i++ ) {
			if ( preg_match( '/^([A-Za-z ]+):\s*(.+)$/', $lines[ $i ], $h ) ) {
				$headers[ $h[1] ] = trim( $h[2] );
			}
		}
		for ( ; $i < count( $lines ) && '' === trim( $lines[ $i ] ); $i++ ) {
		}
		preg_match_all( '/^== (.+) ==$/m', $text, $sections );
		return array( 'title' => $title, 'headers' => $headers, 'short' => $lines[ $i ], 'sections' => $sections[1] );
	}

	/**
	 * @return array<string,string> The plugin file's header fields.
	 */
	private static function plugin_header() {
		$text = file_get_contents( self::plugin_dir() . '/gmail-relay-bridge.php' );
		preg_match_all( '/^\s*\*\s*([A-Za-z ]+):\s*(.+)$/m', $text, $m, PREG_SET_ORDER );
		$headers = array();
		foreach ( $m as $match ) {
			$headers[ trim( $match[1] ) ] = trim( $match[2] );
		}
		return $headers;
	}

	public function test_the_readme_has_every_header_and_section_wordpress_org_reads() {
		$readme = self::readme();
		$this->assertSame( 'Gmail Relay Bridge', $readme['title'] );
		foreach ( array( 'Contributors', 'Tags', 'Requires at least', 'Tested up to', 'Requires PHP', 'Stable tag', 'License' ) as $name ) {
			$this->assertArrayHasKey( $name, $readme['headers'], $name );
			$this->assertNotSame( '', $readme['headers'][ $name ], $name );
		}
		$this->assertLessThanOrEqual( 5, count( explode( ',', $readme['headers']['Tags'] ) ), 'WordPress.org shows 5 tags at most' );
		$this->assertNotSame( '', trim( $readme['short'] ) );
		$this->assertLessThanOrEqual( 150, strlen( $readme['short'] ), 'WordPress.org cuts the short description at 150 characters' );
		$this->assertSame( array( 'Description', 'Installation', 'Frequently Asked Questions', 'Screenshots', 'Changelog' ), $readme['sections'] );
	}

	public function test_stable_tag_and_requirements_match_the_plugin_header() {
		$readme = self::readme();
		$header = self::plugin_header();
		$this->assertSame( $header['Plugin Name'], $readme['title'] );
		$this->assertSame( $header['Version'], $readme['headers']['Stable tag'] );
		$this->assertSame( $header['Requires at least'], $readme['headers']['Requires at least'] );
		$this->assertSame( $header['Requires PHP'], $readme['headers']['Requires PHP'] );
		$this->assertSame( $header['License'], $readme['headers']['License'] );
		$this->assertMatchesRegularExpression( "/define\\( 'GMAIL_RELAY_BRIDGE_VERSION', '" . preg_quote( $header['Version'], '/' ) . "' \\)/", file_get_contents( self::plugin_dir() . '/gmail-relay-bridge.php' ) );
		$this->assertStringContainsString( '= ' . $header['Version'] . ' =', file_get_contents( self::plugin_dir() . '/readme.txt' ), 'the changelog has the version' );
		$this->assertSame( 'true', $header['Network'], 'network-activated on a multisite install' );
	}
}
