<?php
/**
 * The admin side: dashboard widget, Tools page (status, failures, test email), settings page and
 * the notice shown on every admin page while an account needs reauthorization or mail is held.
 *
 * @package GmailRelayBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Admin pages. Everything printed is escaped at the point of output.
 */
final class Gmail_Relay_Bridge_Admin {

	/** Tools page slug. */
	const TOOLS_PAGE = 'gmail-relay-bridge';

	/** Settings page slug. */
	const SETTINGS_PAGE = 'gmail-relay-bridge-settings';

	/** Settings API group. */
	const SETTINGS_GROUP = 'gmail_relay_bridge';

	/** admin-post.php action and nonce action of the test email button. */
	const TEST_ACTION = 'gmail_relay_bridge_test_email';

	/** Per-user transient prefix holding the test email's result until the page shows it. */
	const TEST_RESULT_TRANSIENT = 'gmail_relay_bridge_test_';

	/** Who sees and changes any of this. */
	const CAPABILITY = 'manage_options';

	/** @var Gmail_Relay_Bridge_Plugin */
	private $plugin;

	/** @var Gmail_Relay_Bridge_Status|null|false False until fetched in this request. */
	private $status = false;

	/**
	 * @param Gmail_Relay_Bridge_Plugin $plugin The mail side.
	 */
	public function __construct( Gmail_Relay_Bridge_Plugin $plugin ) {
		$this->plugin = $plugin;
	}

	/**
	 * Adds the admin hooks.
	 */
	public function register() {
		add_action( 'admin_menu', array( $this, 'add_pages' ) );
		add_action( 'admin_init', array( $this, 'register_setting' ) );
		add_action( 'wp_dashboard_setup', array( $this, 'add_dashboard_widget' ) );
		add_action( 'admin_notices', array( $this, 'render_notices' ) );
		add_action( 'admin_post_' . self::TEST_ACTION, array( $this, 'handle_test_email' ) );
		add_filter( 'plugin_action_links_' . plugin_basename( GMAIL_RELAY_BRIDGE_FILE ), array( $this, 'action_links' ) );
	}

	/**
	 * Tools → Gmail Relay and Settings → Gmail Relay.
	 */
	public function add_pages() {
		add_management_page(
			__( 'Gmail Relay', 'gmail-relay-bridge' ),
			__( 'Gmail Relay', 'gmail-relay-bridge' ),
			self::CAPABILITY,
			self::TOOLS_PAGE,
			array( $this, 'render_tools_page' )
		);
		if ( is_multisite() ) {
			return; // The settings are the network admin's (Gmail_Relay_Bridge_Network_Admin).
		}
		add_options_page(
			__( 'Gmail Relay', 'gmail-relay-bridge' ),
			__( 'Gmail Relay', 'gmail-relay-bridge' ),
			self::CAPABILITY,
			self::SETTINGS_PAGE,
			array( $this, 'render_settings_page' )
		);
	}

	/**
	 * @param string[] $links Plugin row links.
	 * @return string[]
	 */
	public function action_links( $links ) {
		array_unshift(
			$links,
			sprintf( '<a href="%s">%s</a>', esc_url( admin_url( 'options-general.php?page=' . self::SETTINGS_PAGE ) ), esc_html__( 'Settings', 'gmail-relay-bridge' ) ),
			sprintf( '<a href="%s">%s</a>', esc_url( admin_url( 'tools.php?page=' . self::TOOLS_PAGE ) ), esc_html__( 'Status', 'gmail-relay-bridge' ) )
		);
		return $links;
	}

	/**
	 * The option, with its sanitiser.
	 */
	public function register_setting() {
		if ( is_multisite() ) {
			return; // A site's own option is not used on a network: options.php refuses it.
		}
		register_setting(
			self::SETTINGS_GROUP,
			Gmail_Relay_Bridge_Settings::OPTION,
			array(
				'type'              => 'array',
				'sanitize_callback' => array( $this, 'sanitize_settings' ),
				'default'           => array(),
				'show_in_rest'      => false,
			)
		);
	}

	/**
	 * sanitize_option_gmail_relay_bridge_settings: checks the form and seals the secrets.
	 *
	 * @param mixed $input Submitted values.
	 * @return array<string,string>
	 */
	public function sanitize_settings( $input ) {
		$previous = get_option( Gmail_Relay_Bridge_Settings::OPTION, array() );
		// options.php has already unslashed the input: a password may contain backslashes.
		$result = Gmail_Relay_Bridge_Settings::sanitize_input(
			is_array( $input ) ? $input : array(),
			$previous,
			array( 'Gmail_Relay_Bridge_Plugin', 'constant_value' ),
			Gmail_Relay_Bridge_Plugin::secret_box()
		);
		foreach ( $result['errors'] as $field => $message ) {
			add_settings_error( Gmail_Relay_Bridge_Settings::OPTION, 'gmail_relay_bridge_' . $field, $message, 'error' );
		}
		return $result['stored'];
	}

	/**
	 * The dashboard widget, for administrators.
	 */
	public function add_dashboard_widget() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			return;
		}
		wp_add_dashboard_widget( 'gmail_relay_bridge_status', __( 'Gmail Relay', 'gmail-relay-bridge' ), array( $this, 'render_widget' ) );
	}

	/**
	 * @param bool $fresh Skip the cache.
	 * @return Gmail_Relay_Bridge_Status|null
	 */
	private function status( $fresh = false ) {
		if ( false === $this->status || $fresh ) {
			$this->status = ( new Gmail_Relay_Bridge_Status_Client( $this->plugin->settings() ) )->get( $fresh );
		}
		return $this->status;
	}

	/**
	 * admin_notices: accounts that need reauthorization, held mail, and a bridge that is not set up.
	 */
	public function render_notices() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			return;
		}
		$tools_url = admin_url( 'tools.php?page=' . self::TOOLS_PAGE );
		$settings  = $this->plugin->settings();
		if ( ! $this->plugin->wp_mail_smtp_active() && ! $settings->can_send() && ! $this->on_own_page() ) {
			echo '<div class="notice notice-warning gmail-relay-bridge-notice"><p>';
			printf(
				/* translators: %s: link to the settings page. */
				esc_html__( 'Gmail Relay Bridge is not set up, so WordPress mail does not go through the relay. %s', 'gmail-relay-bridge' ),
				'<a href="' . esc_url( admin_url( 'options-general.php?page=' . self::SETTINGS_PAGE ) ) . '">' . esc_html__( 'Open the settings', 'gmail-relay-bridge' ) . '</a>'
			);
			echo '</p>';
			$errors = $settings->errors();
			unset( $errors['status_url'] ); // Does not stop mail; the widget and the Tools page say it.
			if ( array() !== $errors ) {
				echo '<ul>';
				foreach ( $errors as $message ) {
					echo '<li>' . esc_html( $message ) . '</li>';
				}
				echo '</ul>';
			}
			echo '</div>';
		}

		$status = $this->status();
		if ( null === $status || ! $status->needs_attention() ) {
			return;
		}
		echo '<div class="notice notice-error gmail-relay-bridge-notice" id="gmail-relay-bridge-attention"><p><strong>';
		esc_html_e( 'Gmail Relay needs attention:', 'gmail-relay-bridge' );
		echo '</strong></p><ul>';
		foreach ( $status->accounts_needing_attention() as $account ) {
			$title = null !== $account['problem'] ? $account['problem']['title'] : '';
			echo '<li>';
			if ( '' !== $title ) {
				printf(
					/* translators: 1: account name, 2: state such as "needs reauthorization", 3: problem title. */
					esc_html__( 'Account %1$s: %2$s — %3$s', 'gmail-relay-bridge' ),
					'<code>' . esc_html( $account['name'] ) . '</code>',
					esc_html( self::state_label( $account['state'] ) ),
					esc_html( $title )
				);
			} else {
				printf(
					/* translators: 1: account name, 2: state such as "needs reauthorization". */
					esc_html__( 'Account %1$s: %2$s', 'gmail-relay-bridge' ),
					'<code>' . esc_html( $account['name'] ) . '</code>',
					esc_html( self::state_label( $account['state'] ) )
				);
			}
			echo '</li>';
		}
		if ( $status->queue['held'] > 0 ) {
			echo '<li>';
			echo esc_html(
				sprintf(
					/* translators: %d: number of messages. */
					_n( '%d message is held until this is fixed.', '%d messages are held until this is fixed.', $status->queue['held'], 'gmail-relay-bridge' ),
					$status->queue['held']
				)
			);
			echo '</li>';
		}
		echo '</ul><p><a href="' . esc_url( $tools_url ) . '">' . esc_html__( 'What to do', 'gmail-relay-bridge' ) . '</a></p></div>';
	}

	/**
	 * @return bool Whether the current screen is one of the bridge's pages.
	 */
	private function on_own_page() {
		$page = isset( $_GET['page'] ) ? sanitize_key( wp_unslash( $_GET['page'] ) ) : ''; // phpcs:ignore WordPress.Security.NonceVerification.Recommended -- only selects a notice.
		return in_array( $page, array( self::TOOLS_PAGE, self::SETTINGS_PAGE ), true );
	}

	/**
	 * The dashboard widget: each account's state, the queue, recent failures.
	 */
	public function render_widget() {
		echo '<div class="gmail-relay-bridge-widget">';
		$this->render_mode_line();
		$status = $this->status();
		$this->render_status( $status, false );
		echo Gmail_Relay_Bridge_Chart::widget( $this->plugin->settings() ); // phpcs:ignore WordPress.Security.EscapeOutput -- escaped by the renderer.
		$this->render_last_failure( true );
		echo '<p><a href="' . esc_url( admin_url( 'tools.php?page=' . self::TOOLS_PAGE ) ) . '">' . esc_html__( 'Relay status and test email', 'gmail-relay-bridge' ) . '</a></p>';
		echo '</div>';
	}

	/**
	 * Tools → Gmail Relay.
	 */
	public function render_tools_page() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'You are not allowed to see the relay status.', 'gmail-relay-bridge' ), 403 );
		}
		$fresh  = isset( $_GET['refresh'] ); // phpcs:ignore WordPress.Security.NonceVerification.Recommended -- a reload without the cache, no state change.
		$status = $this->status( $fresh );
		echo '<div class="wrap gmail-relay-bridge-tools"><h1>' . esc_html__( 'Gmail Relay', 'gmail-relay-bridge' ) . '</h1>';
		$this->render_mode_line();
		if ( $this->plugin->wp_mail_smtp_active() ) {
			$this->render_wp_mail_smtp_values();
		}

		echo '<h2>' . esc_html__( 'Relay status', 'gmail-relay-bridge' ) . '</h2>';
		$this->render_status( $status, true );
		echo '<p><a class="button" href="' . esc_url( admin_url( 'tools.php?page=' . self::TOOLS_PAGE . '&refresh=1' ) ) . '">' . esc_html__( 'Refresh', 'gmail-relay-bridge' ) . '</a></p>';

		echo '<h2 id="test-email">' . esc_html__( 'Send a test email', 'gmail-relay-bridge' ) . '</h2>';
		$this->render_test_result();
		$user = wp_get_current_user();
		echo '<form method="post" action="' . esc_url( admin_url( 'admin-post.php' ) ) . '">';
		echo '<input type="hidden" name="action" value="' . esc_attr( self::TEST_ACTION ) . '" />';
		wp_nonce_field( self::TEST_ACTION );
		echo '<p><label for="gmail-relay-bridge-test-to">' . esc_html__( 'Send to', 'gmail-relay-bridge' ) . '</label> ';
		echo '<input type="email" class="regular-text" id="gmail-relay-bridge-test-to" name="to" required value="' . esc_attr( $user->user_email ) . '" /> ';
		submit_button( __( 'Send test email', 'gmail-relay-bridge' ), 'primary', 'submit', false );
		echo '</p></form>';

		echo '<h2>' . esc_html__( 'Last failure in WordPress', 'gmail-relay-bridge' ) . '</h2>';
		$this->render_last_failure( false );

		echo '<h2>' . esc_html__( 'Settings in use', 'gmail-relay-bridge' ) . '</h2>';
		$this->render_settings_summary();
		echo '</div>';
	}

	/**
	 * One line: is mail going through the relay, through WP Mail SMTP, or not at all?
	 */
	private function render_mode_line() {
		$settings = $this->plugin->settings();
		if ( $this->plugin->wp_mail_smtp_active() ) {
			echo '<p class="gmail-relay-bridge-mode">' . esc_html__( 'WP Mail SMTP is active, so it sends WordPress mail and this plugin leaves PHPMailer alone. Point WP Mail SMTP\'s "Other SMTP" mailer at the relay (Tools → Gmail Relay lists the values).', 'gmail-relay-bridge' ) . '</p>';
		} elseif ( $settings->can_send() ) {
			printf(
				'<p class="gmail-relay-bridge-mode">%s</p>',
				esc_html(
					sprintf(
						/* translators: 1: host, 2: port, 3: security (none, starttls, tls), 4: login. */
						__( 'WordPress mail goes through the relay at %1$s:%2$d (security: %3$s, login %4$s).', 'gmail-relay-bridge' ),
						$settings->get( 'host' ),
						$settings->get( 'port' ),
						$settings->get( 'security' ),
						$settings->get( 'user' )
					)
				)
			);
			if ( '' === $settings->get( 'from' ) ) {
				echo '<p class="gmail-relay-bridge-from-hint">' . esc_html(
					sprintf(
						/* translators: %s: WordPress's default sender such as wordpress@example.com. */
						__( 'GMAIL_RELAY_FROM is not set, so mail without a From of its own leaves as %s, which Gmail will not send as. Set it to the relay account\'s address.', 'gmail-relay-bridge' ),
						Gmail_Relay_Bridge_Mailer::wordpress_default_from( network_home_url() )
					)
				) . '</p>';
			}
		} else {
			echo '<p class="gmail-relay-bridge-mode"><strong>' . esc_html__( 'WordPress mail does not go through the relay yet:', 'gmail-relay-bridge' ) . '</strong></p><ul>';
			foreach ( $settings->missing() as $field ) {
				/* translators: %s: constant name such as GMAIL_RELAY_USER. */
				echo '<li>' . esc_html( sprintf( __( '%s is not set.', 'gmail-relay-bridge' ), Gmail_Relay_Bridge_Settings::CONSTANTS[ $field ] ) ) . '</li>';
			}
			foreach ( $settings->errors() as $field => $message ) {
				echo '<li>' . esc_html( $settings->constant_name( $field ) . ': ' . $message ) . '</li>';
			}
			echo '</ul><p><a href="' . esc_url( admin_url( 'options-general.php?page=' . self::SETTINGS_PAGE ) ) . '">' . esc_html__( 'Open the settings', 'gmail-relay-bridge' ) . '</a></p>';
		}
	}

	/**
	 * Accounts, queue and failures from the relay, or why they are unknown.
	 *
	 * @param Gmail_Relay_Bridge_Status|null $status Snapshot.
	 * @param bool                           $full   Tools page (every step, every failure) or widget.
	 */
	private function render_status( $status, $full ) {
		if ( null === $status ) {
			echo '<p class="gmail-relay-bridge-unreachable">' . esc_html__( 'No status URL is set (GMAIL_RELAY_STATUS_URL), so the relay\'s health is not shown.', 'gmail-relay-bridge' ) . '</p>';
			return;
		}
		if ( ! $status->reachable ) {
			echo '<div class="notice notice-error inline gmail-relay-bridge-unreachable"><p><strong>' . esc_html__( 'The relay\'s status is unknown.', 'gmail-relay-bridge' ) . '</strong> ' . esc_html( $status->error ) . '</p></div>';
			return;
		}
		if ( array() === $status->accounts ) {
			echo '<p>' . esc_html__( 'The relay has no accounts yet: add one with gmail-relay account add.', 'gmail-relay-bridge' ) . '</p>';
		}
		echo '<ul class="gmail-relay-bridge-accounts">';
		foreach ( $status->accounts as $account ) {
			$state = $account['state'];
			echo '<li class="gmail-relay-bridge-account gmail-relay-bridge-state-' . esc_attr( $state ) . '" data-account="' . esc_attr( $account['name'] ) . '" data-state="' . esc_attr( $state ) . '">';
			printf(
				'<strong>%s</strong> %s — <span class="gmail-relay-bridge-state">%s</span>',
				esc_html( $account['name'] ),
				'' !== $account['email'] ? '&lt;' . esc_html( $account['email'] ) . '&gt;' : '',
				esc_html( self::state_label( $state ) )
			);
			if ( null !== $account['problem'] ) {
				$problem = $account['problem'];
				echo '<div class="gmail-relay-bridge-problem"><p><strong>' . esc_html( $problem['title'] ) . '</strong>';
				if ( '' !== $problem['code'] ) {
					echo ' <code>' . esc_html( $problem['code'] ) . '</code>';
				}
				echo '</p>';
				if ( '' !== $problem['explanation'] ) {
					echo '<p>' . esc_html( $problem['explanation'] ) . '</p>';
				}
				if ( $full && array() !== $problem['causes'] ) {
					echo '<p>' . esc_html__( 'Likely causes:', 'gmail-relay-bridge' ) . '</p><ul class="gmail-relay-bridge-causes">';
					foreach ( $problem['causes'] as $cause ) {
						echo '<li>' . esc_html( $cause ) . '</li>';
					}
					echo '</ul>';
				}
				$steps = $full ? $problem['steps'] : array_slice( $problem['steps'], 0, 3 );
				if ( array() !== $steps ) {
					echo '<ol class="gmail-relay-bridge-steps">';
					foreach ( $steps as $step ) {
						echo '<li>' . esc_html( $step ) . '</li>';
					}
					echo '</ol>';
				}
				echo '</div>';
			} elseif ( 'needs_reauth' === $state ) {
				/* translators: %s: account name. */
				echo '<p>' . esc_html( sprintf( __( 'Run gmail-relay reauth %s on the relay\'s host.', 'gmail-relay-bridge' ), $account['name'] ) ) . '</p>';
			}
			if ( null !== $account['warning'] ) {
				echo '<p class="gmail-relay-bridge-warning"><strong>' . esc_html( $account['warning']['text'] ) . '</strong></p>';
			}
			if ( $full && '' !== $account['last_success_at'] ) {
				/* translators: %s: time. */
				echo '<p class="description">' . esc_html( sprintf( __( 'Last sent: %s', 'gmail-relay-bridge' ), $account['last_success_at'] ) ) . '</p>';
			}
			echo '</li>';
		}
		echo '</ul>';

		$queue = $status->queue;
		printf(
			'<p class="gmail-relay-bridge-queue">%s</p>',
			esc_html(
				sprintf(
					/* translators: 1: sent in the last 24 hours, 2: queued, 3: held, 4: failed. */
					__( 'Sent in 24 hours: %1$d · queued: %2$d · held: %3$d · failed: %4$d', 'gmail-relay-bridge' ),
					$queue['sent_24h'],
					$queue['queued'],
					$queue['held'],
					$queue['failed']
				)
			)
		);

		if ( '' !== $status->failures_error ) {
			echo '<p class="gmail-relay-bridge-failures-error">' . esc_html( $status->failures_error ) . '</p>';
		} elseif ( array() !== $status->failures && ! $full ) {
			// The widget column is narrow: one line per failure.
			echo '<h3>' . esc_html__( 'Recent failures', 'gmail-relay-bridge' ) . '</h3><ul class="gmail-relay-bridge-failures">';
			foreach ( array_slice( $status->failures, 0, 3 ) as $failure ) {
				printf(
					'<li>%s <code>%s</code></li>',
					esc_html(
						sprintf(
							/* translators: 1: log id, 2: recipients, 3: subject. */
							__( 'Log %1$d to %2$s, "%3$s":', 'gmail-relay-bridge' ),
							(int) $failure['id'],
							implode( ', ', $failure['recipients'] ),
							$failure['subject']
						)
					),
					esc_html( $failure['problem'] )
				);
			}
			echo '</ul>';
		} elseif ( array() !== $status->failures ) {
			$failures = $status->failures;
			echo '<h3>' . esc_html__( 'Recent failures', 'gmail-relay-bridge' ) . '</h3>';
			echo '<table class="widefat striped gmail-relay-bridge-failures"><thead><tr><th>' . esc_html__( 'Log id', 'gmail-relay-bridge' ) . '</th><th>' . esc_html__( 'To', 'gmail-relay-bridge' ) . '</th><th>' . esc_html__( 'Subject', 'gmail-relay-bridge' ) . '</th><th>' . esc_html__( 'Problem', 'gmail-relay-bridge' ) . '</th></tr></thead><tbody>';
			foreach ( $failures as $failure ) {
				printf(
					'<tr><td>%d</td><td>%s</td><td>%s</td><td><code>%s</code></td></tr>',
					(int) $failure['id'],
					esc_html( implode( ', ', $failure['recipients'] ) ),
					esc_html( $failure['subject'] ),
					esc_html( $failure['problem'] )
				);
			}
			echo '</tbody></table>';
			echo '<p class="description">' . esc_html__( 'Every attempt with Google\'s full answer: gmail-relay log show ID on the relay\'s host.', 'gmail-relay-bridge' ) . '</p>';
		}
	}

	/**
	 * The last wp_mail_failed, if any.
	 *
	 * @param bool $short Widget (only when there is one) or Tools page.
	 */
	private function render_last_failure( $short ) {
		$failure = get_option( Gmail_Relay_Bridge_Plugin::LAST_FAILURE_OPTION );
		if ( ! is_array( $failure ) || empty( $failure['time'] ) ) {
			if ( ! $short ) {
				echo '<p>' . esc_html__( 'None recorded.', 'gmail-relay-bridge' ) . '</p>';
			}
			return;
		}
		$when = wp_date( get_option( 'date_format' ) . ' ' . get_option( 'time_format' ), (int) $failure['time'] );
		echo '<div class="gmail-relay-bridge-last-failure">';
		/* translators: 1: date and time, 2: recipients. */
		echo '<p><strong>' . esc_html( sprintf( __( 'Last failed email: %1$s, to %2$s', 'gmail-relay-bridge' ), (string) $when, implode( ', ', (array) $failure['to'] ) ) ) . '</strong></p>';
		if ( ! empty( $failure['reply'] ) ) {
			echo '<p>' . esc_html__( 'The relay answered:', 'gmail-relay-bridge' ) . ' <code class="gmail-relay-bridge-reply">' . esc_html( (string) $failure['reply'] ) . '</code></p>';
		}
		$detail = ! empty( $failure['detail'] ) ? (string) $failure['detail'] : (string) $failure['message'];
		echo '<p><code class="gmail-relay-bridge-error">' . esc_html( $detail ) . '</code></p>';
		echo '</div>';
	}

	/**
	 * The values WP Mail SMTP's "Other SMTP" mailer needs.
	 */
	private function render_wp_mail_smtp_values() {
		$settings = $this->plugin->settings();
		$security = $settings->get( 'security' );
		$labels   = array(
			'none'     => __( 'None', 'gmail-relay-bridge' ),
			'starttls' => __( 'TLS', 'gmail-relay-bridge' ),
			'tls'      => __( 'SSL', 'gmail-relay-bridge' ),
		);
		$rows     = array(
			__( 'Mailer', 'gmail-relay-bridge' )          => __( 'Other SMTP', 'gmail-relay-bridge' ),
			__( 'SMTP Host', 'gmail-relay-bridge' )       => (string) $settings->get( 'host' ),
			__( 'Encryption', 'gmail-relay-bridge' )      => $labels[ $security ],
			__( 'SMTP Port', 'gmail-relay-bridge' )       => (string) $settings->get( 'port' ),
			__( 'Auto TLS', 'gmail-relay-bridge' )        => __( 'Off', 'gmail-relay-bridge' ),
			__( 'Authentication', 'gmail-relay-bridge' )  => __( 'On', 'gmail-relay-bridge' ),
			__( 'SMTP Username', 'gmail-relay-bridge' )   => '' !== $settings->get( 'user' ) ? (string) $settings->get( 'user' ) : __( '(the login from gmail-relay credential add)', 'gmail-relay-bridge' ),
			__( 'SMTP Password', 'gmail-relay-bridge' )   => __( '(the password printed by gmail-relay credential add)', 'gmail-relay-bridge' ),
			__( 'From Email', 'gmail-relay-bridge' )      => '' !== $settings->get( 'from' ) ? (string) $settings->get( 'from' ) : __( '(the relay account\'s address)', 'gmail-relay-bridge' ),
			__( 'Force From Email', 'gmail-relay-bridge' ) => __( 'On', 'gmail-relay-bridge' ),
		);
		echo '<h2>' . esc_html__( 'Values for WP Mail SMTP', 'gmail-relay-bridge' ) . '</h2>';
		echo '<p>' . esc_html__( 'In WP Mail SMTP → Settings, choose these:', 'gmail-relay-bridge' ) . '</p>';
		echo '<table class="widefat striped gmail-relay-bridge-wp-mail-smtp"><tbody>';
		foreach ( $rows as $label => $value ) {
			echo '<tr><th scope="row">' . esc_html( $label ) . '</th><td><code>' . esc_html( $value ) . '</code></td></tr>';
		}
		echo '</tbody></table>';
		if ( 'none' !== $security ) {
			echo '<p class="description">' . esc_html__( 'Encryption TLS is STARTTLS on the submission port; SSL is the relay\'s implicit-TLS port (smtp.tls_listen).', 'gmail-relay-bridge' ) . '</p>';
		}
	}

	/**
	 * Where each setting comes from; secrets as "set" or "not set", never their value.
	 */
	private function render_settings_summary() {
		$settings = $this->plugin->settings();
		$sources  = array(
			'constant' => __( 'wp-config.php', 'gmail-relay-bridge' ),
			'site'     => __( 'this site\'s login in the network settings', 'gmail-relay-bridge' ),
			'option'   => is_multisite() ? __( 'network settings', 'gmail-relay-bridge' ) : __( 'settings page', 'gmail-relay-bridge' ),
			'default'  => __( 'default', 'gmail-relay-bridge' ),
		);
		echo '<table class="widefat striped gmail-relay-bridge-settings-summary"><tbody>';
		foreach ( array_keys( Gmail_Relay_Bridge_Settings::CONSTANTS ) as $field ) {
			$constant = $settings->constant_name( $field );
			$value    = $settings->get( $field );
			if ( in_array( $field, Gmail_Relay_Bridge_Settings::SECRETS, true ) ) {
				$value = '' !== $value ? __( '(set)', 'gmail-relay-bridge' ) : __( '(not set)', 'gmail-relay-bridge' );
			}
			printf(
				'<tr><th scope="row"><code>%s</code></th><td>%s</td><td>%s</td></tr>',
				esc_html( $constant ),
				esc_html( (string) $value ),
				esc_html( $sources[ $settings->source( $field ) ] )
			);
		}
		echo '</tbody></table>';
		echo '<p><a href="' . esc_url( admin_url( 'options-general.php?page=' . self::SETTINGS_PAGE ) ) . '">' . esc_html__( 'Change the settings', 'gmail-relay-bridge' ) . '</a></p>';
	}

	/**
	 * admin-post.php?action=gmail_relay_bridge_test_email.
	 */
	public function handle_test_email() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'You are not allowed to send a test email.', 'gmail-relay-bridge' ), '', array( 'response' => 403 ) );
		}
		check_admin_referer( self::TEST_ACTION );
		$to = isset( $_POST['to'] ) ? sanitize_email( wp_unslash( $_POST['to'] ) ) : '';
		if ( ! is_email( $to ) ) {
			$result = array(
				'ok'     => false,
				'to'     => $to,
				'reply'  => '',
				'error'  => __( 'That is not an email address.', 'gmail-relay-bridge' ),
				'routed' => $this->plugin->routes_mail(),
				'time'   => time(),
			);
		} else {
			$result = $this->plugin->send_test_email( $to );
		}
		Gmail_Relay_Bridge_Status_Client::forget();
		set_transient( self::TEST_RESULT_TRANSIENT . get_current_user_id(), $result, 10 * MINUTE_IN_SECONDS );
		wp_safe_redirect( admin_url( 'tools.php?page=' . self::TOOLS_PAGE . '#test-email' ) );
		exit;
	}

	/**
	 * Shows (once) the result of the test email this user just sent.
	 */
	private function render_test_result() {
		$key    = self::TEST_RESULT_TRANSIENT . get_current_user_id();
		$result = get_transient( $key );
		if ( ! is_array( $result ) ) {
			return;
		}
		delete_transient( $key );
		$held  = $result['ok'] && 1 === preg_match( '/held: ([a-z0-9_]+)/', $result['reply'], $match );
		$class = $result['ok'] ? ( $held ? 'notice-warning' : 'notice-success' ) : 'notice-error';
		echo '<div class="notice ' . esc_attr( $class ) . ' inline gmail-relay-bridge-test-result"><p>';
		if ( $held ) {
			/* translators: 1: recipient, 2: problem code. */
			echo esc_html( sprintf( __( 'The relay accepted the test email to %1$s but holds it (%2$s): the account needs attention, see the relay status above. It is sent once that is fixed.', 'gmail-relay-bridge' ), $result['to'], $match[1] ) );
		} elseif ( $result['ok'] ) {
			/* translators: %s: recipient. */
			echo esc_html( sprintf( __( 'The test email to %s was accepted.', 'gmail-relay-bridge' ), $result['to'] ) );
		} else {
			/* translators: %s: recipient. */
			echo esc_html( sprintf( __( 'The test email to %s was not sent.', 'gmail-relay-bridge' ), $result['to'] ) );
		}
		echo '</p>';
		if ( '' !== $result['reply'] ) {
			echo '<p>' . esc_html__( 'The relay answered:', 'gmail-relay-bridge' ) . ' <code class="gmail-relay-bridge-reply">' . esc_html( $result['reply'] ) . '</code></p>';
		} elseif ( ! $result['routed'] ) {
			echo '<p>' . esc_html__( 'It did not go through this plugin (WP Mail SMTP is active or the relay settings are incomplete).', 'gmail-relay-bridge' ) . '</p>';
		}
		if ( '' !== $result['error'] ) {
			echo '<p><code class="gmail-relay-bridge-error">' . esc_html( $result['error'] ) . '</code></p>';
		}
		echo '</div>';
	}

	/**
	 * Settings → Gmail Relay.
	 */
	public function render_settings_page() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'You are not allowed to change these settings.', 'gmail-relay-bridge' ), 403 );
		}
		$settings = $this->plugin->settings();
		$labels   = array(
			'host'        => __( 'Relay host', 'gmail-relay-bridge' ),
			'port'        => __( 'Relay port', 'gmail-relay-bridge' ),
			'user'        => __( 'SMTP login', 'gmail-relay-bridge' ),
			'pass'        => __( 'SMTP password', 'gmail-relay-bridge' ),
			'security'    => __( 'Security', 'gmail-relay-bridge' ),
			'from'        => __( 'From address (the relay account)', 'gmail-relay-bridge' ),
			'status_url'  => __( 'Relay status URL', 'gmail-relay-bridge' ),
			'read_token'  => __( 'Relay read token', 'gmail-relay-bridge' ),
			'tls_ca_file' => __( 'Certificate to trust (PEM file)', 'gmail-relay-bridge' ),
		);
		$help     = array(
			'host'        => __( 'smtp.listen of the relay; 127.0.0.1 when it runs on this server.', 'gmail-relay-bridge' ),
			'port'        => __( '2525 by default; the implicit-TLS port (smtp.tls_listen) with security tls.', 'gmail-relay-bridge' ),
			'user'        => __( 'The login from gmail-relay credential add.', 'gmail-relay-bridge' ),
			'pass'        => __( 'Stored encrypted and never shown. Leave empty to keep the stored one.', 'gmail-relay-bridge' ),
			'security'    => __( 'none on loopback; starttls when the relay has a certificate; tls for the implicit-TLS port.', 'gmail-relay-bridge' ),
			'from'        => __( 'Replaces WordPress\'s default wordpress@ sender; a From chosen by a plugin is kept.', 'gmail-relay-bridge' ),
			'status_url'  => __( 'web.listen of the relay, such as http://127.0.0.1:8025.', 'gmail-relay-bridge' ),
			'read_token'  => __( 'web.read_token of the relay, when it has one (the plugin only reads the status; web.admin_token works too but gives more than it needs). Stored encrypted and never shown.', 'gmail-relay-bridge' ),
			'tls_ca_file' => __( 'For a self-signed relay certificate: the relay\'s certificate file. The certificate is still verified.', 'gmail-relay-bridge' ),
		);
		$option   = Gmail_Relay_Bridge_Settings::OPTION;
		echo '<div class="wrap"><h1>' . esc_html__( 'Gmail Relay settings', 'gmail-relay-bridge' ) . '</h1>';
		settings_errors( $option );
		echo '<p>' . esc_html__( 'A constant in wp-config.php (shown below its field) wins over this page.', 'gmail-relay-bridge' ) . '</p>';
		echo '<form method="post" action="' . esc_url( admin_url( 'options.php' ) ) . '">';
		settings_fields( self::SETTINGS_GROUP );
		echo '<table class="form-table" role="presentation"><tbody>';
		foreach ( Gmail_Relay_Bridge_Settings::CONSTANTS as $field => $constant ) {
			$id       = 'gmail-relay-bridge-' . str_replace( '_', '-', $field );
			$name     = $option . '[' . $field . ']';
			$locked   = 'constant' === $settings->source( $field );
			$secret   = in_array( $field, Gmail_Relay_Bridge_Settings::SECRETS, true );
			$value    = $secret ? '' : (string) $settings->get( $field );
			$disabled = $locked ? ' disabled="disabled"' : '';
			echo '<tr><th scope="row"><label for="' . esc_attr( $id ) . '">' . esc_html( $labels[ $field ] ) . '</label></th><td>';
			if ( 'security' === $field ) {
				echo '<select id="' . esc_attr( $id ) . '" name="' . esc_attr( $name ) . '"' . $disabled . '>'; // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- a fixed attribute.
				foreach ( Gmail_Relay_Bridge_Settings::SECURITY_VALUES as $choice ) {
					echo '<option value="' . esc_attr( $choice ) . '"' . selected( $value, $choice, false ) . '>' . esc_html( $choice ) . '</option>';
				}
				echo '</select>';
			} else {
				$type        = $secret ? 'password' : ( 'port' === $field ? 'number' : 'text' );
				$placeholder = '';
				if ( $secret && '' !== $settings->get( $field ) ) {
					$placeholder = __( '(stored; leave empty to keep)', 'gmail-relay-bridge' );
				}
				printf(
					'<input type="%s" class="regular-text" id="%s" name="%s" value="%s" placeholder="%s" autocomplete="off"%s />',
					esc_attr( $type ),
					esc_attr( $id ),
					esc_attr( $name ),
					esc_attr( $value ),
					esc_attr( $placeholder ),
					$disabled // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- a fixed attribute.
				);
				if ( $secret && ! $locked && 'option' === $settings->source( $field ) ) {
					echo ' <label><input type="checkbox" name="' . esc_attr( $option . '[clear_' . $field . ']' ) . '" value="1" /> ' . esc_html__( 'Remove', 'gmail-relay-bridge' ) . '</label>';
				}
			}
			echo '<p class="description">' . esc_html( $help[ $field ] ) . ' ';
			$constant = $settings->constant_name( $field );
			if ( $locked ) {
				/* translators: %s: constant name. */
				echo '<strong>' . esc_html( sprintf( __( 'Set by %s in wp-config.php.', 'gmail-relay-bridge' ), $constant ) ) . '</strong>';
			} else {
				/* translators: %s: constant name. */
				echo esc_html( sprintf( __( 'Constant: %s.', 'gmail-relay-bridge' ), $constant ) );
			}
			$errors = $settings->errors();
			if ( isset( $errors[ $field ] ) ) {
				echo '<br /><span class="gmail-relay-bridge-field-error" style="color:#b32d2e">' . esc_html( $errors[ $field ] ) . '</span>';
			}
			echo '</p></td></tr>';
		}
		echo '</tbody></table>';
		submit_button();
		echo '</form></div>';
	}

	/**
	 * @param string $state ok, needs_reauth, blocked, unconfigured, unknown.
	 * @return string
	 */
	public static function state_label( $state ) {
		switch ( $state ) {
			case 'ok':
				return __( 'OK', 'gmail-relay-bridge' );
			case 'needs_reauth':
				return __( 'needs reauthorization', 'gmail-relay-bridge' );
			case 'blocked':
				return __( 'blocked, mail is held', 'gmail-relay-bridge' );
			case 'unconfigured':
				return __( 'not set up', 'gmail-relay-bridge' );
			default:
				return __( 'unknown state', 'gmail-relay-bridge' );
		}
	}
}
